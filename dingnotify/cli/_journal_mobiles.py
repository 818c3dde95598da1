"""The mobiles a journal has resolved (schema 5), so a resumed run never looks them up again.

Thousands of lookups take minutes and a real share of the month's call budget; a run
stopped after them, or during them, must not pay again. Each answer (the userid, or
NULL for a number DingTalk does not know) is kept as it arrives and committed in small
batches: a SIGKILL loses at most the last second's lookups, which the next run repeats.
"""

from __future__ import annotations

import sqlite3
import time


class MobileCache:
    """Mobile (as looked up) -> userid, or None when unknown, kept in the journal."""

    EVERY = 100
    """Commit after this many answers, or ``SECONDS`` after the last commit."""
    SECONDS = 1.0

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._pending: list[tuple[str, str | None]] = []
        self._committed = time.monotonic()

    def known(self) -> dict[str, str | None]:
        """What earlier runs of the journal resolved."""
        return dict(self.db.execute("SELECT mobile, userid FROM mobiles").fetchall())

    def add(self, mobile: str, userid: str | None) -> None:
        """One lookup's answer; committed with the next batch."""
        self._pending.append((mobile, userid))
        if len(self._pending) >= self.EVERY or \
                time.monotonic() - self._committed >= self.SECONDS:
            self.flush()

    def flush(self) -> None:
        """Commit the answers not yet committed (one transaction)."""
        self._committed = time.monotonic()
        if not self._pending:
            return
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR REPLACE INTO mobiles (mobile, userid) VALUES (?, ?)",
                            self._pending)
        self.db.execute("COMMIT")
        self._pending.clear()
