"""Kill a journaled broadcast with SIGKILL midway; the rerun sends only what the journal
had not acknowledged, and every recipient ends with exactly one copy."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from dingnotify.testing import Emulator
from tests.cli_e2e.conftest import SEND, cli_env, run_cli

USERS = [f"u{i:06d}" for i in range(1, 3001)]


def unacknowledged(journal: Path) -> int:
    with closing(sqlite3.connect(journal)) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM batches WHERE task_id IS NULL").fetchone()
    return int(count)


def test_sigkill_then_resume_sends_each_batch_once(emu: Emulator, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(USERS))
    journal = tmp_path / "run.sqlite"
    args = ["broadcast", "--recipients", str(ids), "--text", "resume me",
            "--journal", str(journal), "--rate", "20", "--concurrency", "2", "--quiet"]
    env = cli_env(emu)
    first = subprocess.Popen([sys.executable, "-m", "dingnotify.cli", *args], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while len(emu.tasks) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(emu.tasks) >= 10, "the first run never got going"
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    time.sleep(0.3)  # let requests already on the wire land
    pending, sends_before = unacknowledged(journal), emu.count(SEND)
    assert 0 < pending < 30

    second = run_cli(args, env)
    assert second.returncode == 0, second.stderr
    assert f"resuming: {30 - pending} batch(es) already acknowledged" in second.stderr
    assert emu.count(SEND) - sends_before == pending  # nothing acknowledged was re-sent
    assert unacknowledged(journal) == 0
    assert all(len(emu.inboxes[u]) == 1 for u in USERS)  # every recipient exactly once
    assert emu.app.app_secret.encode() not in journal.read_bytes()


def test_resume_refuses_another_message_or_recipients(emu: Emulator, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(USERS[:150]))
    journal = tmp_path / "j.sqlite"
    base = ["broadcast", "--recipients", str(ids), "--journal", str(journal), "--quiet"]
    assert run_cli([*base, "--text", "one"], cli_env(emu)).returncode == 0
    again = run_cli([*base, "--text", "one"], cli_env(emu))
    assert again.returncode == 0 and emu.count(SEND) == 2  # all acknowledged: nothing sent
    other = run_cli([*base, "--text", "two"], cli_env(emu))
    assert other.returncode == 2 and "different message" in other.stderr
    ids.write_text("\n".join(USERS[:151]))
    more = run_cli([*base, "--text", "one"], cli_env(emu))
    assert more.returncode == 2 and "different recipients" in more.stderr
    assert emu.count(SEND) == 2
