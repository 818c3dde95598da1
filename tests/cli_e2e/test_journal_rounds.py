"""Issue 25, items 1, 5 and 8: a robot broadcast killed during its re-send delay resumes
the flow-controlled users and the rounds left, and never reports "sent" for an unknown
answer; a journal that cannot be written stops the run before the first call; ``--out``
holds one row per recipient with its final state."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from dingnotify.testing import Emulator, Fault, FaultPlan, Org, RateLimits
from tests.cli_e2e.conftest import ThreadedEmulator, cli_env, run_cli
from tests.cli_e2e.test_robot_cli import SEND, robot, robot_env, users

USERS = users(400, start=1001)


def wait_until(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)
    assert check(), "timed out"  # type: ignore[operator]


def throttled_now(emu: Emulator) -> int:
    return sum(len(s.throttled) for s in list(emu.robot.sends.values()))


def start(emu: Emulator, args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "dingnotify.cli", "robot", *args],
                            env=robot_env(emu), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


def broadcast_args(tmp_path: Path, *extra: str) -> list[str]:
    listing = tmp_path / "staff.txt"
    listing.write_text("\n".join(USERS), "utf-8")
    return ["broadcast", "--text", "rounds", "--recipients", str(listing),
            "--journal", str(tmp_path / "robot.sqlite"), "--quiet", *extra]


@pytest.mark.parametrize("rounds_before_kill", [0, 1])
def test_robot_killed_in_resend_delay_resumes_the_throttled(
        emu: Emulator, tmp_path: Path, rounds_before_kill: int) -> None:
    emu.robot.flow_control_ratio = 0.3
    delay = "30" if rounds_before_kill == 0 else "2.5"
    args = broadcast_args(tmp_path, "--resend-rounds", "3", "--resend-delay", delay)
    first = start(emu, args)
    try:
        wait_until(lambda: emu.count(SEND) >= 20)
        expected = 20
        if rounds_before_kill:  # the first round's calls, then kill in the next delay
            expected += math.ceil(throttled_now(emu) / 20)
            wait_until(lambda: emu.count(SEND) >= expected)
        time.sleep(0.5)  # answers journaled; the run sleeps in the re-send delay
        assert emu.count(SEND) == expected
        kill(first)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    missing = [u for u in USERS if not emu.robot_inbox(u)]
    assert missing, "the flow control throttled nobody"

    emu.robot.flow_control_ratio = 0.0
    out = tmp_path / "out.csv"
    second = robot(emu, *args, "--out", str(out))
    assert second.returncode == 0, second.stderr
    assert "sent: 400  invalid: 0  filtered: 0  throttled: 0" in second.stdout
    assert f"resend rounds: {rounds_before_kill + 1}" in second.stdout
    assert all(len(emu.robot_inbox(u)) == 1 for u in USERS)  # each user exactly once
    resent = {u for r in emu.requests[-math.ceil(len(missing) / 20):] if r.path == SEND
              for u in r.json["userIds"]}
    assert resent <= set(missing)
    rows = read_rows(out)
    assert sorted(r["userid"] for r in rows) == USERS
    assert {r["status"] for r in rows} == {"sent"}


def test_robot_resume_keeps_throttled_when_no_round_is_left(
        emu: Emulator, tmp_path: Path) -> None:
    emu.robot.flow_control_ratio = 0.3
    args = broadcast_args(tmp_path, "--resend-rounds", "0")
    first = robot(emu, *args)
    assert first.returncode == 4
    throttled = throttled_now(emu)
    assert f"throttled: {throttled}" in first.stdout
    emu.robot.flow_control_ratio = 0.0
    again = robot(emu, *args)  # nothing left to send, nothing reported sent that was not
    assert again.returncode == 4, again.stderr
    assert f"sent: {400 - throttled}  invalid: 0  filtered: 0  throttled: {throttled}" \
        in again.stdout
    assert emu.count(SEND) == 20


def test_robot_old_journal_answers_are_unconfirmed_not_sent(
        emu: Emulator, tmp_path: Path) -> None:
    """A schema 2 journal kept no answers: its acknowledged batches are upgraded in place
    and reported unconfirmed (exit 4), never "sent", and are not sent again."""
    args = broadcast_args(tmp_path)
    assert robot(emu, *args).returncode == 0
    journal = tmp_path / "robot.sqlite"
    with closing(sqlite3.connect(journal)) as db:  # what a schema 2 journal held
        db.execute("DROP TABLE resends")
        db.execute("ALTER TABLE batches DROP COLUMN answer")
        db.execute("ALTER TABLE batches DROP COLUMN acked_at")
        db.execute("ALTER TABLE batches DROP COLUMN recipients")
        db.execute("UPDATE meta SET value='2' WHERE key='schema'")
        db.commit()
    out = tmp_path / "out.json"
    again = robot(emu, *args, "--out", str(out))
    assert again.returncode == 4, again.stderr
    assert {r["status"] for r in json.loads(out.read_text())} == {"unconfirmed"}
    assert "sent: 0  invalid: 0  filtered: 0  throttled: 0  resend rounds: 0  " \
        "unconfirmed: 400" in again.stdout
    assert emu.count(SEND) == 20
    with closing(sqlite3.connect(journal)) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("5",)


def read_only(path: Path) -> None:
    """chmod a-w; as root (who writes anyway) the immutable attribute too."""
    path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(path)],
                                            capture_output=True).returncode:
        path.chmod(0o755 if path.is_dir() else 0o644)
        pytest.skip("running as root without chattr: nothing is read-only")


def writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o755 if path.is_dir() else 0o644)


WORK_SEND = "/topapi/message/corpconversation/asyncsend_v2"


@pytest.mark.parametrize("command", ["robot", "broadcast"])
@pytest.mark.parametrize("what", ["file", "directory"])
def test_read_only_journal_exits_2_before_any_send(
        emu: Emulator, tmp_path: Path, command: str, what: str) -> None:
    folder = tmp_path / "journals"
    folder.mkdir()
    listing = tmp_path / "staff.txt"
    listing.write_text("\n".join(USERS), "utf-8")
    journal = folder / "j.sqlite"
    base = ["--text", "ro", "--recipients", str(listing), "--journal", str(journal),
            "--quiet", "--concurrency", "1"]
    args = ["robot", "broadcast", *base] if command == "robot" else ["broadcast", *base]
    env = robot_env(emu) if command == "robot" else cli_env(emu)
    path = SEND if command == "robot" else WORK_SEND
    # a first run whose every call is refused: the journal's batches are left to send
    emu.faults = FaultPlan(rules=[Fault(path=path, kind="errcode_40035", times=1000)])
    assert run_cli(args, env).returncode == 4
    emu.faults = None
    calls = emu.count(path)
    target = journal if what == "file" else folder
    read_only(target)
    try:
        out = run_cli(args, env)
    finally:
        writable(target)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, \
        out.stderr
    assert "journal" in out.stderr
    assert emu.count(path) == calls  # nothing sent


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_robot_out_one_row_per_recipient_final_state(emu: Emulator, tmp_path: Path) -> None:
    emu.robot.flow_control_ratio = 0.3
    out = tmp_path / "out.csv"
    args = broadcast_args(tmp_path, "--resend-rounds", "5", "--resend-delay", "0.1",
                          "--out", str(out))
    emu.robot.filtered_userids.add(USERS[7])
    first = robot(emu, *args)
    assert emu.count(SEND) > 20  # re-send rounds ran
    rows = read_rows(out)
    assert sorted(r["userid"] for r in rows) == sorted(USERS)
    states = {r["userid"]: r["status"] for r in rows}
    for user in USERS:
        want = "filtered" if user == USERS[7] else \
            "sent" if emu.robot_inbox(user) else "throttled"
        assert states[user] == want, (user, states[user])
    assert first.returncode == (0 if set(states.values()) == {"sent"} else 4)


def test_broadcast_wait_out_one_row_per_recipient_after_resend_rounds(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    everyone = [f"u{i:06d}" for i in range(1, 1501)]
    ids.write_text("\n".join(everyone) + "\n")
    out = tmp_path / "out.csv"
    limits = RateLimits(recipients_per_minute=1_000)  # 500 held back every round
    with ThreadedEmulator(org=Org.synthetic(n_users=1_500), profile=limits) as emu:
        done = run_cli(["broadcast", "--recipients", str(ids), "--text", "rows", "--wait",
                        "--poll-interval", "0.05", "--resend-rounds", "2", "--resend-delay",
                        "0", "--out", str(out), "--quiet"], cli_env(emu))
        assert done.returncode == 0, done.stderr
        assert emu.count(WORK_SEND) == 15 + 5 + 5  # two re-send rounds ran
        unread = {u for u in everyone if emu.inboxes.get(u)}
    rows = read_rows(out)
    assert len(rows) == 1500 and sorted(r["userid"] for r in rows) == everyone
    states = {r["userid"]: r["status"] for r in rows}
    assert len(unread) == 1000
    assert all(states[u] == ("unread" if u in unread else "throttled") for u in everyone)
    # a re-sent recipient's row is its last batch's (the second round: batches 20..24)
    assert all(int(r["batch"]) >= 20 for r in rows if r["status"] == "throttled")


def test_robot_resume_unknown_resend_batch_is_unconfirmed_not_resent(
        emu: Emulator, tmp_path: Path) -> None:
    """A re-send round whose calls got no answer (may have been sent): the rerun reports
    those users unconfirmed (exit 4), never "sent", and does not message them again."""
    emu.robot.flow_control_ratio = 0.3
    args = broadcast_args(tmp_path, "--resend-rounds", "1", "--resend-delay", "1.5")
    first = start(emu, args)
    try:
        wait_until(lambda: emu.count(SEND) >= 20)
        time.sleep(0.3)
        throttled = throttled_now(emu)
        emu.faults = FaultPlan(rules=[Fault(path=SEND, kind="drop")])  # the round: no answer
        assert first.wait(30) == 4
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    emu.faults = None
    emu.robot.flow_control_ratio = 0.0
    calls = emu.count(SEND)
    assert calls > 20
    again = robot(emu, *args)
    assert again.returncode == 4, again.stderr
    assert f"sent: {400 - throttled}  invalid: 0  filtered: 0  throttled: 0  " \
        f"resend rounds: 1  unconfirmed: {throttled}" in again.stdout
    assert emu.count(SEND) == calls  # nothing sent again
