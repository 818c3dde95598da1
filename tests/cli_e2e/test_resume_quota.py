"""A journaled broadcast stopped and resumed at once does not spend a minute's recipients
budget twice: the resumed run first counts what its journal acknowledged in the last minute
against the client's quota (above the budget DingTalk answers success but delivers
nothing). Journals of schema 3 keep resuming, counted from their last updates."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from dingnotify import BroadcastCancelledError, BroadcastReport
from dingnotify.broadcast import Batch
from dingnotify.cli._journal import SCHEMA_VERSION, Journal
from dingnotify.testing import Emulator, Org, RateLimits
from tests.cli_e2e.conftest import SEND, ThreadedEmulator, cli_env, run_cli

USERS = [f"u{i:06d}" for i in range(1, 6001)]  # 60 batches; a minute's bulk budget is 45


@pytest.fixture
def budget_emu() -> Iterator[Emulator]:
    """DingTalk's recipients budget alone: 5,000 a minute, the excess silently dropped."""
    limits = RateLimits(recipients_per_minute=5000)
    with ThreadedEmulator(org=Org.synthetic(n_users=len(USERS)), profile=limits) as emulator:
        yield emulator


def settled(emu: Emulator, at_least: int, quiet: float = 1.5, timeout: float = 40) -> int:
    """The number of tasks once at least ``at_least`` exist and none came for ``quiet`` s."""
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(emu.tasks)
        if count != last:
            last, since = count, time.monotonic()
        elif count >= at_least and time.monotonic() - since >= quiet:
            return count
        time.sleep(0.05)
    raise AssertionError(f"the broadcast never paused ({last} tasks)")


@pytest.mark.slow
def test_sigterm_then_resume_at_once_waits_for_the_minute(budget_emu: Emulator,
                                                          tmp_path: Path) -> None:
    emu = budget_emu
    ids, journal = tmp_path / "ids.txt", tmp_path / "run.sqlite"
    ids.write_text("\n".join(USERS))
    args = ["broadcast", "--recipients", str(ids), "--text", "once a minute",
            "--journal", str(journal), "--quiet"]
    first = subprocess.Popen([sys.executable, "-m", "dingnotify.cli", *args],
                             env=cli_env(emu), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        sent_first = settled(emu, at_least=30)  # the minute's budget spent, now waiting
        os.kill(first.pid, signal.SIGTERM)
    finally:
        first.wait(15)
    assert first.returncode == 143
    assert sent_first < len(USERS) // 100

    second = run_cli(args, cli_env(emu), timeout=150)
    assert second.returncode == 0, second.stderr
    assert emu.undelivered.total() == 0, emu.undelivered
    assert emu.count(SEND) == len(USERS) // 100
    assert all(len(emu.inboxes.get(u, [])) == 1 for u in USERS)
    assert "count against this minute's quota" in second.stderr


def schema_3(path: Path, updated_at: float | None) -> None:
    """Turn a journal into what schema 3 wrote: no ack times, no recipient counts."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("ALTER TABLE batches DROP COLUMN acked_at")
        db.execute("ALTER TABLE batches DROP COLUMN recipients")
        db.execute("UPDATE batches SET updated_at=?", (updated_at,))
        db.execute("UPDATE meta SET value='3' WHERE key='schema'")
        db.commit()


def acknowledged_journal(path: Path, users: list[str], task_ids: dict[int, int]) -> None:
    journal = Journal(path)
    try:
        journal.prepare("m", users, [], userids_per_call=100)
        with closing(sqlite3.connect(path)) as db:
            db.executemany("UPDATE batches SET state='acknowledged', task_id=? WHERE idx=?",
                           [(t, i) for i, t in task_ids.items()])
            db.commit()
    finally:
        journal.close()


def test_schema_3_journal_counts_from_its_last_updates(tmp_path: Path) -> None:
    path, users = tmp_path / "old.sqlite", USERS[:250]
    acknowledged_journal(path, users, {0: 11, 1: 12})
    schema_3(path, time.time() - 10)
    journal = Journal(path)
    try:
        assert journal.prepare("m", users, [], userids_per_call=100,
                               weigh=lambda u, d: len(u) + 1) == {0: 11, 1: 12}
        drawn = journal.drawn_since(time.time() - 120)
        assert [n for _, n in drawn] == [101, 101]  # weighed now: nothing was recorded
        assert all(9 <= time.time() - at < 60 for at, _ in drawn)
        assert journal.drawn_since(time.time() - 5) == []
        (schema,) = journal.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        assert schema == SCHEMA_VERSION == "5"
    finally:
        journal.close()


def test_a_batch_without_any_time_counts_as_of_the_files_last_change(tmp_path: Path) -> None:
    path, users = tmp_path / "older.sqlite", USERS[:100]
    acknowledged_journal(path, users, {0: 7})
    schema_3(path, None)
    changed = time.time() - 30
    os.utime(path, (changed, changed))
    journal = Journal(path)
    try:
        journal.prepare("m", users, [], userids_per_call=100)
        ((at, drawn),) = journal.drawn_since(time.time() - 120)
        assert drawn == 100 and abs(at - changed) < 1  # before this run wrote to it
    finally:
        journal.close()


def test_batches_left_in_flight_are_journaled_unknown_and_counted(tmp_path: Path) -> None:
    path, users = tmp_path / "stopped.sqlite", USERS[:300]
    journal = Journal(path)
    try:
        journal.prepare("m", users, [], userids_per_call=100)
        report: BroadcastReport = BroadcastReport()
        report.batches = [Batch(i, tuple(users[i * 100:(i + 1) * 100]), ()) for i in range(3)]
        report.batches[0].task_id = 5
        report.batches[1].started()  # written, no answer yet
        for batch in report.batches[1:]:
            batch.close_out(BroadcastCancelledError("broadcast cancelled"))
        journal.unanswered(report)
        assert journal.unknown() == {1} and journal.counts()["planned"] == 2
        assert [n for _, n in journal.drawn_since(time.time() - 60)] == [100]
    finally:
        journal.close()
