"""``dingnotify card send|update|broadcast`` through the real entry point, in a subprocess,
against an emulator on 127.0.0.1: wire bodies, partial success, journal resume, exit codes."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
from pathlib import Path
from typing import Any

from dingnotify.cli import build_parser
from dingnotify.testing import Emulator
from tests.cli_e2e.conftest import cli_env, run_cli

DELIVER = "/v1.0/card/instances/createAndDeliver"
TPL = "tpl.schema"


def card(emu: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(emu, DINGTALK_ROBOT_CODE=emu.robot_code, DINGTALK_API_BASE_URL=emu.url)
    return run_cli(["card", *args], env)


def delivered(emu: Emulator) -> list[Any]:
    return [r.json for r in emu.requests if r.path == DELIVER]


def test_every_card_flag_has_help() -> None:
    def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    card_parser = subparsers(build_parser())["card"]
    commands = subparsers(card_parser)
    assert set(commands) == {"send", "update", "broadcast"}
    for name, sub in {"card": card_parser, **commands}.items():
        for action in sub._actions:
            assert action.help, f"card {name} {action.option_strings or action.dest}"


def test_send_and_update(emu: Emulator, tmp_path: Path) -> None:
    emu.add_card_template(TPL, ["title", "n", "status"])
    out = card(emu, "send", TPL, "--id", "c-1", "--data", '{"title": "Hi", "n": 2}',
               "--user", "u000001", "--user", "ghost", "--format", "json")
    assert out.returncode == 4, out.stderr  # ghost is not in the organisation
    data = json.loads(out.stdout)
    assert data["delivered"] == ["u000001"] and data["failed"] == {"ghost": "userId not exist"}
    [body] = delivered(emu)
    assert body["cardData"] == {"cardParamMap": {"title": "Hi", "n": "2"}}
    assert body["outTrackId"] == "c-1" and body["callbackType"] == "STREAM"
    values = tmp_path / "v.json"
    values.write_text('{"status": "done"}', "utf-8")
    out = card(emu, "update", "c-1", "--data", f"@{values}")
    assert out.returncode == 0, out.stderr
    assert emu.card("c-1").public == {"title": "Hi", "n": "2", "status": "done"}
    out = card(emu, "update", "c-1", "--data", "[1]")
    assert out.returncode == 2 and "JSON object" in out.stderr


def test_missing_template_exits_5_and_bad_data_2(emu: Emulator) -> None:
    out = card(emu, "send", "nope.schema", "--id", "c-1", "--data", "{}", "--user", "u1")
    assert out.returncode == 5 and "CardTemplateError" in out.stderr
    out = card(emu, "send", TPL, "--id", "c-1", "--data", "{", "--user", "u1")
    assert out.returncode == 2


def test_broadcast_resumes_from_its_journal_without_a_second_card(
        emu: Emulator, tmp_path: Path) -> None:
    emu.add_card_template(TPL, ["title"])
    ids = [f"u{i:06d}" for i in range(1, 96)]
    listing = tmp_path / "staff.txt"
    listing.write_text("\n".join(ids) + "\n", "utf-8")
    journal, results = tmp_path / "j.sqlite", tmp_path / "out.csv"
    first = ["broadcast", TPL, "--id-prefix", "n1", "--data", '{"title": "t"}',
             "--recipients", str(listing), "--journal", str(journal), "--format", "json"]
    emu.cards.fail_spaces["u000005"] = "blocked"
    out = card(emu, *first, "--out", str(results))
    assert out.returncode == 4, out.stderr  # u000005's chat refused the card
    data = json.loads(out.stdout)
    assert data["batches"] == data["acknowledged"] == 10 and data["delivered"] == 94
    assert data["failed_userids"] == {"u000005": "blocked"}
    assert data["out_track_ids"][:2] == ["n1-0", "n1-1"]
    with results.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["userid"]: r["status"] for r in rows}["u000005"] == "failed"
    out = card(emu, *first)  # everything acknowledged: nothing is sent again
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["resumed"] == 95
    assert len(delivered(emu)) == 10 and len(emu.cards.cards) == 10
