"""Inputs and signals at the command line (issue 25, items 6, 12, 13): mobiles in any usual
spelling, a cap on ``webhook --split`` parts, SIGTERM ending like Ctrl-C, a recall key
DingTalk names in neither list, and a webhook URL carrying a password."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from dingnotify.cli import _exitcodes as codes
from dingnotify.robot import NO_ANSWER
from dingnotify.testing import Emulator
from dingnotify.testing._robot_state import RobotState
from tests.cli_e2e.conftest import SEND, cli_env, run_cli
from tests.cli_e2e.test_robot_cli import robot, robot_env

USERS = [f"u{i:06d}" for i in range(1, 3001)]
SPELLINGS = ["+86 138 0000 0001", "+8613800000002", "138-0000-0003", "0086 138 0000 0004"]


def test_broadcast_resolves_mobiles_in_any_usual_spelling(emu: Emulator,
                                                          tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("mobile\n" + "\n".join(f'"{m}"' for m in SPELLINGS)
                      + "\n13800000001\n+86 199 9999 9999\n")
    out = run_cli(["broadcast", "--recipients", str(people), "--text", "hi", "--quiet"],
                  cli_env(emu))
    assert out.returncode == codes.PARTIAL, out.stderr  # the one number nobody has
    assert "1 unknown mobile(s), e.g. +86 199 9999 9999" in out.stderr
    for user in USERS[:4]:
        assert len(emu.inboxes[user]) == 1  # u000001 named twice, messaged once
    assert sum(len(box) for box in emu.inboxes.values()) == 4


def test_send_resolves_a_spaced_mobile(emu: Emulator) -> None:
    out = run_cli(["send", "--mobile", "+86 138 0000 0007", "--text", "hi"], cli_env(emu))
    assert out.returncode == 0, out.stderr
    assert "unknown" not in out.stderr and len(emu.inboxes["u000007"]) == 1


def test_webhook_split_is_capped(tmp_path: Path) -> None:
    long = tmp_path / "long.md"
    long.write_text("\n".join(f"- line {i} " + "x" * 60 for i in range(4000)))  # ~280 KB
    env = cli_env(None, DINGTALK_WEBHOOK_URL="http://127.0.0.1:9/robot/send?access_token=t")
    base = ["webhook", "--markdown", str(long), "--title", "Log", "--split"]
    out = run_cli(base, env)  # the default cap refuses before any request (port 9 is shut)
    assert out.returncode == codes.USAGE, out.stderr
    assert "parts, over max_parts=10" in out.stderr and len(out.stderr.splitlines()) == 1
    out = run_cli([*base, "--max-parts", "3"], env)
    assert out.returncode == codes.USAGE and "max_parts=3" in out.stderr
    out = run_cli([*base, "--max-parts", "0"], env)
    assert out.returncode == codes.USAGE and "--max-parts" in out.stderr


def test_webhook_url_with_a_password_is_refused_without_showing_it() -> None:
    env = cli_env(None, DINGTALK_WEBHOOK_URL="https://bob:hunter2@oapi.dingtalk.com/robot/"
                                             "send?access_token=t")
    out = run_cli(["webhook", "--text", "hi"], env)
    assert out.returncode == codes.USAGE
    assert "user name or password" in out.stderr
    assert "hunter2" not in out.stderr + out.stdout and "bob" not in out.stderr


def _acknowledged(journal: Path) -> int:
    with closing(sqlite3.connect(journal)) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM batches WHERE state='acknowledged'").fetchone()
    return int(count)


def test_sigterm_ends_a_broadcast_like_ctrl_c(emu: Emulator, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(USERS))
    journal = tmp_path / "j.sqlite"
    args = ["broadcast", "--recipients", str(ids), "--text", "slow", "--journal", str(journal),
            "--rate", "10", "--concurrency", "1", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "dingnotify.cli", *args], env=cli_env(emu),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(emu.tasks) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(emu.tasks) >= 5, "the broadcast never got going"
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == codes.TERMINATED == 143, stderr
    assert stderr.strip().splitlines()[-1] == "dingnotify: interrupted (SIGTERM)", stderr
    assert "Traceback" not in stderr
    time.sleep(0.3)  # a request already on the wire lands
    acked = _acknowledged(journal)
    assert acked == len(emu.tasks) < 30  # the journal knows every task DingTalk has
    sends = emu.count(SEND)
    again = run_cli(args, cli_env(emu))
    assert again.returncode == 0, again.stderr
    assert emu.count(SEND) - sends == 30 - acked  # nothing acknowledged sent again
    assert all(len(emu.inboxes[u]) == 1 for u in USERS)


def test_recall_key_in_neither_list_is_printed_and_exits_4(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = robot(emu, "send", "--user", "u000010", "--text", "hi")
    assert sent.returncode == 0, sent.stderr
    key = sent.stdout.strip().removeprefix("process_query_key: ")
    real = RobotState.recall

    def forgetful(self: RobotState, code: str, keys: list[str]) -> Any:
        done, failed = real(self, code, keys)
        return [k for k in done if k != key], {k: v for k, v in failed.items() if k != key}

    monkeypatch.setattr(RobotState, "recall", forgetful)
    out = run_cli(["robot", "recall", key], robot_env(emu))
    assert out.returncode == codes.PARTIAL, out.stderr
    assert out.stdout.strip() == f"{key}: not recalled: {NO_ANSWER}"
