"""Command-line conventions: --version, python -m, help on every flag, the documented
environment and exit codes, and --format json (JSON alone on stdout)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import dingnotify
from dingnotify.cli import build_parser
from dingnotify.testing import Emulator
from tests.cli_e2e.conftest import cli_env, run_cli

ENV_VARS = ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_AGENT_ID",
            "DINGTALK_BASE_URL", "DINGNOTIFY_CONFIG", "XDG_CONFIG_HOME")


def test_version_and_python_m_dingnotify() -> None:
    out = subprocess.run([sys.executable, "-m", "dingnotify", "--version"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == f"dingnotify {dingnotify.__version__}"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def test_every_flag_has_help() -> None:
    parser = build_parser()
    for name, sub in {"": parser, **_subparsers(parser)}.items():
        if name == "emulator":
            continue  # its own parser, in dingnotify.testing
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_help_documents_environment_and_exit_codes() -> None:
    for args in (["--help"], ["broadcast", "--help"]):
        out = run_cli(args, cli_env(None))
        assert out.returncode == 0
        for name in ENV_VARS:
            assert name in out.stdout, (args, name)
        for code in ("0 ", "2 ", "3 ", "4 ", "5 "):
            assert f"\n  {code}" in out.stdout


def test_format_json_puts_only_json_on_stdout(emu: Emulator) -> None:
    sent = run_cli(["send", "--text", "j", "--user", "u000007", "--format", "json"],
                   cli_env(emu))
    assert sent.returncode == 0, sent.stderr
    task_id = json.loads(sent.stdout)["task_id"]
    assert task_id in emu.tasks and "task_id:" in sent.stderr

    bc = run_cli(["broadcast", "--text", "j2", "--user", "u000008", "--user", "bad,id",
                  "--format", "json"], cli_env(emu))
    assert bc.returncode == 2  # an invalid userid: nothing on stdout
    assert bc.stdout == ""
    bc = run_cli(["broadcast", "--text", "j2", "--user", "u000008", "--user", "u000009",
                  "--wait", "--poll-interval", "0.1", "--format", "json"], cli_env(emu))
    assert bc.returncode == 0, bc.stderr
    data = json.loads(bc.stdout)
    assert (data["batches"], data["acknowledged"], data["failed"], data["unknown"]) == (
        1, 1, 0, 0)
    assert data["result"]["unread"] + data["result"]["read"] == 2 and data["exit_code"] == 0

    for command in ("progress", "result"):
        out = run_cli([command, str(task_id), "--format", "json"], cli_env(emu))
        assert out.returncode == 0, out.stderr
        (row,) = json.loads(out.stdout)
        assert row["task_id"] == task_id
    assert row["unread_userids"] + row["read_userids"] == ["u000007"]
