"""Resumable broadcast journal (sqlite): nothing lost, nothing sent twice.

The plan (message hash, recipients hash, the batch sizes the run decided once, every batch
sliced by the SDK's ``plan_batches`` with them) is written to a new file and renamed into
place before the first call, so a journal path either holds a whole plan or does not exist.
Each batch's task_id is committed the moment DingTalk acknowledges it. Re-running the same
command with the same journal sends only batches not acknowledged: failed ones (certainly
not sent) and unknown ones (the request may have reached DingTalk) alike.

Durability: ``journal_mode=DELETE`` with ``synchronous=FULL``: each commit is in the main
file itself when it returns, so the ``.sqlite`` file alone (no ``-wal``) holds every
acknowledged batch after a SIGKILL or a power cut. Measured on the CI machine's disk,
300 batch commits: 1.5 ms per commit (WAL with synchronous=NORMAL, the old setting: 0.02 ms,
but the last commits then live only in ``-wal``). At DingTalk's 40 calls/s that is 6% of one
core's time, far below the network's.

A journal in use is locked (``FILE.sqlite.lock``, see ``_lock``): a second run stops at once.
A file that is not a whole dingnotify journal (empty, truncated, corrupted, foreign, rows or
tables deleted) is refused, never silently replaced by a new plan.

The one remaining window: a crash after DingTalk acknowledged a batch but before the
commit. That batch is sent again on resume, which is harmless: DingTalk delivers the same
content to the same user at most once a day, so the repeat lands in ``forbidden`` lists.
Credentials are never written here; error texts are already redacted by the SDK.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._lock import FileLock, LockedError
from ._sdk import BroadcastEvent, plan_batches

APP, SCHEMA_VERSION = "dingnotify-journal", "2"
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE batches (
    idx INTEGER PRIMARY KEY,
    userids TEXT NOT NULL,
    dept_ids TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'planned',
    task_id INTEGER,
    error TEXT,
    updated_at REAL
);
"""
RESEND_STATES = ("planned", "failed", "unknown")


class JournalError(Exception):
    """The journal cannot be used: in use, damaged, foreign, or for another run (exit 2)."""


class JournalMismatchError(JournalError):
    """The journal was made for another message or other recipients."""


def digest(*parts: bytes) -> str:
    """SHA-256 of length-prefixed parts (unambiguous concatenation)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _create(path: Path, meta: dict[str, str], userids: Sequence[str],
            dept_ids: Sequence[int], sizes: dict[str, int]) -> None:
    """Write the whole plan to ``path.new`` and rename it into place."""
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    rows = [(b.index, ",".join(b.userids), ",".join(map(str, b.dept_ids)))
            for b in plan_batches(userids, dept_ids, **sizes)]
    with contextlib.closing(_connect(tmp)) as db:
        db.execute("BEGIN")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.executemany("INSERT INTO batches (idx, userids, dept_ids) VALUES (?, ?, ?)", rows)
        meta = {**meta, "batches": str(len(rows))}
        db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
        db.execute("COMMIT")
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Journal:
    """One broadcast's plan and progress in a sqlite file, locked while open."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = FileLock(self.path)
        try:
            self._lock.acquire()
        except LockedError as exc:
            raise JournalError(f"journal {self.path} in use by pid {exc.pid or '?'}") from None
        except OSError as exc:
            raise JournalError(f"cannot lock journal {self.path}: {exc}") from None
        self._db: sqlite3.Connection | None = None

    def close(self) -> None:
        """Close the database and release the lock (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self._lock.release()

    @property
    def db(self) -> sqlite3.Connection:
        """The open, checked database (after ``prepare``)."""
        assert self._db is not None, "prepare() first"
        return self._db

    def prepare(
        self, message_hash: str, userids: Sequence[str], dept_ids: Sequence[int], *,
        userids_per_call: int, dept_ids_per_call: int | None = None,
    ) -> dict[int, int]:
        """Write the plan, or check it matches; returns ``{batch index: task_id}`` acknowledged.

        The sizes cut the batches, as the run's broadcast will (``dept_ids_per_call`` only
        with dept ids); a journal only resumes with the sizes it was planned with."""
        recipients_hash = digest(",".join(userids).encode(), ",".join(map(str, dept_ids)).encode())
        sizes = {"userids_per_call": userids_per_call}
        if dept_ids and dept_ids_per_call is not None:
            sizes["dept_ids_per_call"] = dept_ids_per_call
        if not self.path.exists():
            meta = {"app": APP, "schema": SCHEMA_VERSION, "message_hash": message_hash,
                    "recipients_hash": recipients_hash, "created_at": str(time.time()),
                    **{name: str(size) for name, size in sizes.items()}}
            try:
                _create(self.path, meta, userids, dept_ids, sizes)
            except OSError as exc:
                raise JournalError(f"cannot create journal {self.path}: {exc}") from None
        self._db = self._open_checked()
        meta = self._meta()
        if meta.get("message_hash") != message_hash:
            raise JournalMismatchError(
                f"journal {self.path} was made for a different message; use a new journal")
        if meta.get("recipients_hash") != recipients_hash:
            raise JournalMismatchError(
                f"journal {self.path} was made for different recipients; use a new journal")
        self._check_sizes(meta, sizes)
        return self.acknowledged()

    def _check_sizes(self, meta: dict[str, str], sizes: dict[str, int]) -> None:
        """Journals of schema 2 made before sizes were recorded hold 100-userid batches."""
        planned = {"userids_per_call": "100", **meta}
        for name, size in sizes.items():
            made = planned.get(name, str(size))
            if made != str(size):
                what = name.removesuffix("_per_call").replace("_", " ")
                raise JournalMismatchError(
                    f"journal {self.path} was made for batches of {made} {what}, not {size} "
                    "(another command or edition?); use a new journal")

    def _open_checked(self) -> sqlite3.Connection:
        if self.path.is_file() and self.path.stat().st_size == 0:
            raise JournalError(f"journal {self.path} exists but is empty: not a journal")
        try:
            db = _connect(self.path)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path} cannot be opened: {exc}") from None
        try:
            self._check(db)
        except sqlite3.Error as exc:
            db.close()
            raise JournalError(f"journal {self.path} is damaged or not a journal: {exc}") from None
        except JournalError:
            db.close()
            raise
        return db

    def _check(self, db: sqlite3.Connection) -> None:
        (ok,) = db.execute("PRAGMA quick_check").fetchone()
        if ok != "ok":
            raise JournalError(f"journal {self.path} is corrupted: {ok}")
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("app") != APP or meta.get("schema") != SCHEMA_VERSION:
            raise JournalError(f"journal {self.path} is not a dingnotify journal "
                               f"(schema {SCHEMA_VERSION})")
        count, low, high = db.execute("SELECT COUNT(*), MIN(idx), MAX(idx) FROM batches").fetchone()
        planned = int(meta.get("batches", -1))
        if (count, low, high) != (planned, 0, planned - 1):
            raise JournalError(f"journal {self.path} holds {count} of its {planned} batches: "
                               "it was altered; use a new journal")

    def _meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def acknowledged(self) -> dict[int, int]:
        """``{batch index: task_id}`` of acknowledged batches: never re-sent."""
        rows = self.db.execute(
            "SELECT idx, task_id FROM batches WHERE state='acknowledged' AND task_id IS NOT NULL")
        return {idx: task_id for idx, task_id in rows}

    def record(self, event: BroadcastEvent[Any]) -> None:
        """Broadcast event hook: commit acknowledgements, failures and unknowns at once."""
        batch = event.batch
        if batch is None:
            return
        if event.kind == "sent":
            self.db.execute(
                "UPDATE batches SET state='acknowledged', task_id=?, error=NULL, updated_at=? "
                "WHERE idx=?", (batch.task_id, time.time(), batch.index))
        elif event.kind == "failed":
            state = batch.state if batch.state in RESEND_STATES else "failed"
            self.db.execute(
                "UPDATE batches SET state=?, error=?, updated_at=? WHERE idx=?",
                (state, f"{type(event.error).__name__}: {event.error}", time.time(),
                 batch.index))

    def counts(self) -> dict[str, int]:
        """Batches per state (planned, acknowledged, failed, unknown)."""
        rows = self.db.execute("SELECT state, COUNT(*) FROM batches GROUP BY state")
        return {state: n for state, n in rows}
