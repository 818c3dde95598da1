"""Resumable broadcast journal (sqlite, WAL): nothing lost, nothing sent twice.

The plan (message hash, recipients hash, every batch) is written before the first call;
each batch's task_id is committed the moment DingTalk acknowledges it. Re-running the same
command with the same journal sends only batches without a task_id.

The one remaining window: a crash after DingTalk acknowledged a batch but before the
commit. That batch is sent again on resume, which is harmless: DingTalk delivers the same
content to the same user at most once a day, so the repeat lands in ``forbidden`` lists.
Credentials are never written here; error texts are already redacted by the SDK.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from .._constants import MAX_DEPT_IDS_PER_CALL, MAX_USERIDS_PER_CALL
from .._recipients import batch_count
from ..broadcast import BroadcastEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    idx INTEGER PRIMARY KEY,
    userids TEXT NOT NULL,
    dept_ids TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'planned',
    task_id INTEGER,
    error TEXT,
    updated_at REAL
);
"""


class JournalMismatchError(Exception):
    """The journal was made for another message or other recipients (exit code 2)."""


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


class Journal:
    """One broadcast's plan and progress in a sqlite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def prepare(
        self, message_hash: str, userids: Sequence[str], dept_ids: Sequence[int]
    ) -> dict[int, int]:
        """Write the plan, or check it matches; returns ``{batch index: task_id}`` acknowledged."""
        recipients_hash = digest(",".join(userids).encode(), ",".join(map(str, dept_ids)).encode())
        meta = self._meta()
        if meta:
            if meta.get("message_hash") != message_hash:
                raise JournalMismatchError(
                    f"journal {self.path} was made for a different message; use a new journal"
                )
            if meta.get("recipients_hash") != recipients_hash:
                raise JournalMismatchError(
                    f"journal {self.path} was made for different recipients; use a new journal"
                )
            return self.acknowledged()
        count = batch_count(len(userids), len(dept_ids))
        rows = [
            (
                i,
                ",".join(userids[i * MAX_USERIDS_PER_CALL : (i + 1) * MAX_USERIDS_PER_CALL]),
                ",".join(map(str, dept_ids[i * MAX_DEPT_IDS_PER_CALL :
                                           (i + 1) * MAX_DEPT_IDS_PER_CALL])),
            )
            for i in range(count)
        ]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO batches (idx, userids, dept_ids) VALUES (?, ?, ?)",
                                 rows)
            self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("message_hash", message_hash), ("recipients_hash", recipients_hash),
                 ("batches", str(count)), ("created_at", str(time.time()))],
            )
        return {}

    def acknowledged(self) -> dict[int, int]:
        rows = self._db.execute("SELECT idx, task_id FROM batches WHERE task_id IS NOT NULL")
        return {idx: task_id for idx, task_id in rows}

    def record(self, event: BroadcastEvent) -> None:
        """Broadcast event hook: commit acknowledgements and failures as they happen."""
        batch = event.batch
        if batch is None:
            return
        if event.kind == "sent":
            self._db.execute(
                "UPDATE batches SET state='acknowledged', task_id=?, error=NULL, updated_at=? "
                "WHERE idx=?", (batch.task_id, time.time(), batch.index))
        elif event.kind == "failed":
            self._db.execute(
                "UPDATE batches SET state='failed', error=?, updated_at=? WHERE idx=?",
                (f"{type(event.error).__name__}: {event.error}", time.time(), batch.index))

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, COUNT(*) FROM batches GROUP BY state")
        return {state: n for state, n in rows}
