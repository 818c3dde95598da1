"""``dingnotify robot send|broadcast|status|recall`` through the real entry point, in a
subprocess, against an emulator on 127.0.0.1: wire bodies, fan-out of 20, the journal's
resume, status, recall, exit codes and ``--format json``."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dingnotify.cli import build_parser
from dingnotify.cli._journal import Journal, JournalMismatchError
from dingnotify.testing import Emulator, Fault, FaultPlan
from tests.cli_e2e.conftest import cli_env, run_cli

SEND = "/v1.0/robot/oToMessages/batchSend"
TOKEN = "/v1.0/oauth2/accessToken"


def robot_env(emu: Emulator, **overrides: str) -> dict[str, str]:
    env = cli_env(emu, DINGTALK_ROBOT_CODE=emu.robot_code, DINGTALK_API_BASE_URL=emu.url)
    env.update(overrides)
    return env


def robot(emu: Emulator, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["robot", *args], robot_env(emu, **env))


def sent_bodies(emu: Emulator) -> list[Any]:
    return [r.json for r in emu.requests if r.path == SEND]


def users(n: int, start: int = 1) -> list[str]:
    return [f"u{i:06d}" for i in range(start, start + n)]


def one_line_error(out: subprocess.CompletedProcess[str], code: int) -> None:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert out.stdout == "" and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_every_robot_flag_has_help() -> None:
    def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    robot_parser = subparsers(build_parser())["robot"]
    commands = subparsers(robot_parser)
    assert set(commands) == {"send", "broadcast", "status", "recall"}
    for name, sub in {"robot": robot_parser, **commands}.items():
        for action in sub._actions:
            assert action.help, f"robot {name} {action.option_strings or action.dest}"


def test_send_exact_wire_body_and_json(emu: Emulator, tmp_path: Path) -> None:
    out = robot(emu, "send", "--text", "你好 hi", "--user", "u000001", "--user", "u000002",
                "--user", "u000001", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    key = data["process_query_key"]
    assert data["invalid_userids"] == data["throttled_userids"] == [] and data["exit_code"] == 0
    assert sent_bodies(emu) == [{"robotCode": emu.robot_code, "userIds": ["u000001", "u000002"],
                                 "msgKey": "sampleText", "msgParam": '{"content":"你好 hi"}'}]
    for uid in ("u000001", "u000002"):
        (got,) = emu.robot_inbox(uid)
        assert got.process_query_key == key and got.msg_param == {"content": "你好 hi"}
    assert f"process_query_key: {key}" in out.stderr  # the summary moves to stderr with json

    notice = tmp_path / "notice.md"
    notice.write_text("**bold**", "utf-8")
    out = robot(emu, "send", "--markdown", str(notice), "--title", "T", "--user", "u000003",
                "--user", "ghost")
    assert out.returncode == 4, out.stderr  # an invalid user: partial
    assert out.stdout.startswith("process_query_key: ") and "invalid (1): ghost" in out.stderr
    assert sent_bodies(emu)[-1] == {"robotCode": emu.robot_code,
                                    "userIds": ["u000003", "ghost"], "msgKey": "sampleMarkdown",
                                    "msgParam": '{"title":"T","text":"**bold**"}'}


def test_broadcast_from_files_in_calls_of_twenty(emu: Emulator, tmp_path: Path) -> None:
    ids = users(330)
    listing = tmp_path / "staff.txt"
    listing.write_text("\n".join(ids + ids[:40]) + "\n", "utf-8")  # duplicates
    mobiles = tmp_path / "more.csv"  # 15 more users by mobile, one unknown number
    mobiles.write_text("name,mobile\n" + "".join(f"n{i},138{i:08d}\n" for i in range(331, 346))
                       + "x,13999999999\n", "utf-8")
    results = tmp_path / "results.csv"
    out = robot(emu, "broadcast", "--text", "all hands", "--recipients", str(listing),
                "--recipients", str(mobiles), "--concurrency", "8", "--out", str(results),
                "--format", "json")
    assert out.returncode == 4, out.stderr  # the unknown mobile
    data = json.loads(out.stdout)
    everyone = users(345)
    assert (data["batches"], data["acknowledged"], data["failed"], data["unknown"]) == (
        18, 18, 0, 0)
    assert data["sent"] == 345 and data["unknown_mobiles"] == ["13999999999"]
    assert len(data["process_query_keys"]) == 18 and data["exit_code"] == 4
    bodies = sent_bodies(emu)
    assert len(bodies) == 18 and all(len(b["userIds"]) <= 20 for b in bodies)
    assert sorted(u for b in bodies for u in b["userIds"]) == everyone
    assert all(len(emu.robot_inbox(u)) == 1 for u in everyone)
    rows = list(csv.DictReader(results.read_text("utf-8").splitlines()))
    assert sorted(r["userid"] for r in rows if r["status"] == "sent") == everyone
    assert [r["mobile"] for r in rows if r["status"] == "unknown_mobile"] == ["13999999999"]
    assert "unknown mobile" in out.stderr

    again = robot(emu, "broadcast", "--text", "short", "--user", "u000001", "--user",
                  "u000002")
    assert again.returncode == 0, again.stderr
    assert "acknowledged: 1" in again.stdout and "sent: 2  invalid: 0" in again.stdout


def test_journal_resume_sends_only_the_missing_batches(emu: Emulator, tmp_path: Path) -> None:
    ids = users(300, start=1001)
    listing = tmp_path / "staff.txt"
    listing.write_text("\n".join(ids), "utf-8")
    journal = tmp_path / "robot.sqlite"
    args = ["broadcast", "--markdown", str(tmp_path / "m.md"), "--title", "Notice",
            "--recipients", str(listing), "--journal", str(journal), "--format", "json"]
    (tmp_path / "m.md").write_text("# notice", "utf-8")

    emu.faults = FaultPlan(rules=[Fault(path=SEND, kind="http_400", times=4)])
    first = robot(emu, *args)
    assert first.returncode == 4, first.stderr
    data = json.loads(first.stdout)
    assert data["batches"] == 15 and data["failed"] == 4 and data["unknown"] == 0
    assert data["acknowledged"] == 11 and len(data["problems"]) == 4
    missing = {u for p in data["problems"] for u in ids[p["batch"] * 20:(p["batch"] + 1) * 20]}
    assert all(not emu.robot_inbox(u) for u in missing)

    emu.faults = None
    calls = emu.count(SEND)
    second = robot(emu, *args)
    assert second.returncode == 0, second.stderr
    assert "resuming: 11 batch(es) already acknowledged" in second.stderr
    assert emu.count(SEND) - calls == 4
    resent = [u for b in sent_bodies(emu)[-4:] for u in b["userIds"]]
    assert sorted(resent) == sorted(missing)
    assert all(len(emu.robot_inbox(u)) == 1 for u in ids)
    assert json.loads(second.stdout)["sent"] == 300

    third = robot(emu, *args)  # everything acknowledged: nothing is sent
    assert third.returncode == 0 and emu.count(SEND) - calls == 4
    # a robot journal is not a work-notice journal
    other = run_cli(["broadcast", "--markdown", str(tmp_path / "m.md"), "--title", "Notice",
                     "--recipients", str(listing), "--journal", str(journal)], robot_env(emu))
    one_line_error(other, 2)


def test_resume_never_resends_a_batch_left_unknown(emu: Emulator, tmp_path: Path) -> None:
    """DingTalk took one batch but its answer never came (the request timed out after it was
    accepted): the robot API does not drop a repeat, so neither the retry policy nor a
    resumed run sends that batch again; it stays unknown (exit 4) and nobody gets two."""
    ids = users(100, start=2001)
    listing = tmp_path / "staff.txt"
    listing.write_text("\n".join(ids), "utf-8")
    (tmp_path / "m.md").write_text("# notice", "utf-8")
    args = ["broadcast", "--markdown", str(tmp_path / "m.md"), "--title", "Notice",
            "--recipients", str(listing), "--journal", str(tmp_path / "robot.sqlite"),
            "--format", "json", "--concurrency", "1", "--request-timeout", "0.5"]
    emu.faults = FaultPlan(rules=[Fault(path=SEND, kind="delay", delay=1.5,
                                        after_accept=True, times=1)])
    first = robot(emu, *args)
    assert first.returncode == 4, first.stderr
    assert json.loads(first.stdout)["unknown"] == 1 and emu.count(SEND) == 5
    assert "not sent again" in first.stderr
    emu.faults = None
    second = robot(emu, *args)
    assert second.returncode == 4, second.stderr
    data = json.loads(second.stdout)
    assert data["unknown"] == 1 and data["acknowledged"] == 4
    assert emu.count(SEND) == 5  # the unknown batch was not sent again
    assert all(len(emu.robot_inbox(u)) == 1 for u in ids)


def test_journal_refuses_another_batch_size(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    assert journal.prepare("h", users(45), [], userids_per_call=20) == {}
    assert journal.counts() == {"planned": 3}
    journal.close()
    journal = Journal(path)
    with pytest.raises(JournalMismatchError, match="batches of 20"):
        journal.prepare("h", users(45), [], userids_per_call=100)
    journal.close()


def test_status_and_recall(emu: Emulator) -> None:
    sent = robot(emu, "send", "--text", "x", "--user", "u000010", "--user", "u000011",
                 "--format", "json")
    key = json.loads(sent.stdout)["process_query_key"]

    status = robot(emu, "status", key, "--format", "json")
    assert status.returncode == 0, status.stderr
    (row,) = json.loads(status.stdout)
    assert row["process_query_key"] == key and row["send_status"] == "SUCCESS"
    assert sorted(row["read_userids"] + row["unread_userids"]) == ["u000010", "u000011"]
    assert row["read"] + row["unread"] == 2
    text = robot(emu, "status", key, "nosuchkey")
    assert text.returncode == 4 and f"{key}: SUCCESS" in text.stdout
    assert "nosuchkey" in text.stderr and "Traceback" not in text.stderr

    recall = robot(emu, "recall", key)
    assert recall.returncode == 0, recall.stderr
    assert recall.stdout.strip() == f"{key}: recalled"
    assert all(m.recalled for u in ("u000010", "u000011") for m in emu.robot_inbox(u))
    again = robot(emu, "recall", key, "nosuchkey", "--format", "json")
    assert again.returncode == 4
    data = json.loads(again.stdout)
    assert data["recalled"] == [] and set(data["failed"]) == {key, "nosuchkey"}


# The entry point run once per argv, in one subprocess (interpreter start-up dominates).
DRIVER = """
import contextlib, io, json, sys
from dingnotify.cli import main
import os
results = []
for env, argv in json.loads(sys.argv[1]):
    saved = dict(os.environ)
    os.environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    os.environ.clear()
    os.environ.update(saved)
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""

BAD_INPUT = [
    ["send", "--user", "u000001"],                                     # no message
    ["send", "--text", "a", "--markdown", "m.md", "--title", "T", "--user", "u000001"],
    ["send", "--text", "a", "--title", "T", "--user", "u000001"],
    ["send", "--text", "", "--user", "u000001"],                        # empty text
    ["send", "--text", "a"],                                            # no recipients
    ["send", "--text", "a", *[f"--user=u{i:06d}" for i in range(1, 22)]],  # 21 users
    ["send", "--markdown", "/nonexistent.md", "--title", "T", "--user", "u000001"],
    ["send", "--text", "a", "--user", "u000001", "--api-base-url", "ftp://x"],
    ["broadcast", "--text", "a", "--user", "bad,id"],
    ["broadcast", "--text", "a"],                                       # no recipients
    ["broadcast", "--text", "a", "--recipients", "/nonexistent.txt"],
    ["broadcast", "--text", "a", "--user", "u000001", "--out", "/nonexistent/x.csv"],
    ["broadcast", "--text", "a", "--user", "u000001", "--concurrency", "0"],
    ["broadcast", "--text", "a", "--user", "u000001", "--rate", "nan"],
    ["broadcast", "--text", "a", "--dept", "1"],                        # no such flag
    ["status"],                                                         # no key
    [],                                                                 # no subcommand
]


def run_many(emu: Emulator, cases: list[tuple[dict[str, str], list[str]]],
             cwd: Path) -> list[tuple[int, str, str]]:
    """``(exit code, stdout, stderr)`` of ``robot ARGV`` per case, env overrides applied."""
    argvs = [[env, ["robot", *args]] for env, args in cases]
    done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(argvs)], env=robot_env(emu),
                          cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [(int(c), str(o), str(e)) for c, o, e in json.loads(done.stdout)]


def assert_one_line(result: tuple[int, str, str], code: int, args: object) -> None:
    got, stdout, stderr = result
    assert (got, stdout) == (code, ""), (args, got, stderr)
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, (args, stderr)


def test_bad_input_exits_2_with_one_line(emu: Emulator, tmp_path: Path) -> None:
    results = run_many(emu, [({}, args) for args in BAD_INPUT], tmp_path)
    for args, result in zip(BAD_INPUT, results, strict=True):
        assert_one_line(result, 2, args)
    assert emu.count(SEND) == emu.count(TOKEN) == 0


def test_credentials_exit_3(emu: Emulator, tmp_path: Path) -> None:
    send = ["send", "--text", "a", "--user", "u000001"]
    no_code, no_key, wrong, flag = run_many(emu, [
        ({"DINGTALK_ROBOT_CODE": ""}, send),
        ({"DINGTALK_APP_KEY": ""}, ["status", "k"]),
        ({"DINGTALK_APP_SECRET": "wrong-secret-XYZ"},
         ["broadcast", "--text", "a", "--user", "u000001", "--quiet"]),
        ({"DINGTALK_ROBOT_CODE": ""}, [*send, "--robot-code", emu.robot_code]),
    ], tmp_path)
    for result in (no_code, no_key, wrong):
        assert_one_line(result, 3, result)
    assert "DINGTALK_ROBOT_CODE" in no_code[2] and "wrong-secret-XYZ" not in wrong[2]
    assert flag[0] == 0, flag
    assert emu.count(SEND) == 1 and emu.count(TOKEN) == 2
