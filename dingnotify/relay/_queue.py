"""The durable queue: sqlite with ``synchronous=FULL``, every write through one thread.

Writers hand the thread a function of the connection; it runs whatever has arrived in one
transaction and commits once (group commit), then resolves each caller's future. So an
accept is answered only after its row is on disk, and 1,000 accepts a second cost a few
fsyncs, not 1,000.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
ACTIVE = ("queued", "sending")
KEEP_SECONDS = 7 * 86_400  # how long /notifications/{id} answers after the end

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT NOT NULL UNIQUE, created REAL NOT NULL, updated REAL NOT NULL,
    status TEXT NOT NULL, channel TEXT NOT NULL, route TEXT, target TEXT NOT NULL,
    messages TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0, task_ids TEXT NOT NULL DEFAULT '[]',
    outcome TEXT, error TEXT);
CREATE INDEX IF NOT EXISTS by_status ON notifications (status, channel, route);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, ids TEXT NOT NULL, expires REAL NOT NULL);
"""


class QueueFullError(Exception):
    """The queue holds ``limit`` undelivered notifications: answer 503, try again later."""


class QueueError(Exception):
    """The queue file cannot be opened or is not ours."""


@dataclass(frozen=True)
class Item:
    """One notification to accept: a channel, its target and its messages (wire form)."""

    channel: str
    route: str | None
    target: dict[str, Any]
    messages: list[dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """One notification as the deliverer sees it."""

    id: str
    channel: str
    route: str | None
    target: dict[str, Any]
    messages: list[dict[str, Any]]
    attempts: int
    task_ids: list[Any]
    status: str


def _row(r: sqlite3.Row) -> Row:
    return Row(id=r["id"], channel=r["channel"], route=r["route"],
               target=json.loads(r["target"]), messages=json.loads(r["messages"]),
               attempts=r["attempts"], task_ids=json.loads(r["task_ids"]), status=r["status"])


class Queue:
    """``await Queue.open(path, limit=...)``; every method is a coroutine of the event loop."""

    def __init__(self, conn: sqlite3.Connection, limit: int) -> None:
        self._conn = conn
        self.limit = limit
        self.depth = conn.execute(
            "SELECT count(*) FROM notifications WHERE status IN ('queued','sending')"
        ).fetchone()[0]
        self._ops: queue.SimpleQueue[tuple[Op, asyncio.Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="relay-queue", daemon=True)
        self._thread.start()

    @classmethod
    async def open(cls, path: Path, *, limit: int) -> Queue:
        """Open (create) the queue; a notification left ``sending`` by a crash is queued."""
        return await asyncio.to_thread(cls._open, path, limit)

    @classmethod
    def _open(cls, path: Path, limit: int) -> Queue:
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            conn.execute("UPDATE notifications SET status='queued' WHERE status='sending'")
        except sqlite3.Error as exc:
            raise QueueError(f"queue {path}: {exc}") from None
        return cls(conn, limit)

    # -- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while (first := self._ops.get()) is not None:
            batch = [first]
            while not self._ops.empty() and len(batch) < 2000:
                more = self._ops.get()
                if more is None:
                    self._ops.put(None)
                    break
                batch.append(more)
            self._commit(batch)
        self._conn.close()

    def _commit(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        try:
            results = self._transaction(batch)
        except sqlite3.Error as exc:  # the disk, not one operation: every caller hears it
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            results = [(f, None, QueueError(str(exc))) for _, f in batch]
        for future, value, error in results:
            future.get_loop().call_soon_threadsafe(_settle, future, value, error)

    def _transaction(self, batch: list[tuple[Op, asyncio.Future[Any]]]
                     ) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
        """Every operation in one transaction, each under its own savepoint."""
        results: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        depth = self.depth
        self._conn.execute("BEGIN IMMEDIATE")
        for op, future in batch:
            self._conn.execute("SAVEPOINT op")
            try:
                results.append((future, op(self._conn), None))
                self._conn.execute("RELEASE op")
            except Exception as exc:  # handed to its caller
                self._conn.execute("ROLLBACK TO op")
                self._conn.execute("RELEASE op")
                results.append((future, None, exc))
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error:
            self.depth = depth
            raise
        return results

    async def _do(self, op: Callable[[sqlite3.Connection], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._ops.put((op, future))
        return await future

    async def close(self) -> None:
        self._ops.put(None)
        await asyncio.to_thread(self._thread.join, 30)

    # -- operations ----------------------------------------------------------------------

    async def add(self, items: list[Item], *, key: str | None = None,
                  ttl: float = 86_400) -> tuple[list[str], bool]:
        """Commit ``items``; returns their ids and whether they are new. A ``key`` seen in
        the last ``ttl`` seconds returns the ids it gave and adds nothing."""
        return await self._do(lambda conn: self._add(conn, items, key, ttl))

    def _add(self, conn: sqlite3.Connection, items: list[Item], key: str | None,
             ttl: float) -> tuple[list[str], bool]:
        now = time.time()
        if key is not None:
            seen = conn.execute("SELECT ids FROM idempotency WHERE key=? AND expires>?",
                                (key, now)).fetchone()
            if seen is not None:
                return json.loads(seen[0]), False
        if self.depth + len(items) > self.limit:
            raise QueueFullError(f"the queue holds {self.depth} notifications")
        ids = [uuid.uuid4().hex for _ in items]
        conn.executemany(
            "INSERT INTO notifications (id, created, updated, status, channel, route, target,"
            " messages) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
            [(i, now, now, it.channel, it.route, json.dumps(it.target),
              json.dumps(it.messages, ensure_ascii=False)) for i, it in zip(ids, items,
                                                                              strict=True)])
        if key is not None:
            conn.execute("INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?)",
                         (key, json.dumps(ids), now + ttl))
        self.depth += len(items)
        return ids, True

    async def claim(self, limit: int, *, route: str | None = None,
                    webhooks: bool = False) -> list[Row]:
        """Mark up to ``limit`` due notifications ``sending`` and return them, oldest first:
        of one webhook ``route``, or (``webhooks=False``) of every other channel."""
        where = "route=?" if route is not None else ("channel='webhook'" if webhooks
                                                     else "channel!='webhook'")
        args: tuple[Any, ...] = (route,) if route is not None else ()

        def op(conn: sqlite3.Connection) -> list[Row]:
            rows = conn.execute(
                "UPDATE notifications SET status='sending', updated=? WHERE rowid IN ("
                "SELECT rowid FROM notifications WHERE status='queued' AND next_at<=? AND "
                f"{where} ORDER BY rowid LIMIT ?) RETURNING rowid AS seq, *",
                (time.time(), time.time(), *args, limit)).fetchall()
            return [_row(r) for r in sorted(rows, key=lambda r: r["seq"])]

        return await self._do(op)

    async def unconfirmed(self) -> list[Row]:
        """Work notices sent but not yet confirmed (a restart confirms them again)."""
        return await self._do(lambda conn: [_row(r) for r in conn.execute(
            "SELECT * FROM notifications WHERE status='sent' AND channel='work_notice'")])

    async def update(self, ids: list[str], status: str, **fields: Any) -> None:
        """Set ``status`` (and ``task_ids``, ``outcome``, ``error``, ``attempts``,
        ``next_at``) of ``ids``."""
        encoded = {k: json.dumps(v) if k in ("task_ids", "outcome") else v
                   for k, v in fields.items()}
        columns = "".join(f", {k}=?" for k in encoded)

        def op(conn: sqlite3.Connection) -> None:
            done = status not in ACTIVE
            for one in ids:
                before = conn.execute("SELECT status FROM notifications WHERE id=?",
                                      (one,)).fetchone()
                conn.execute(f"UPDATE notifications SET status=?, updated=?{columns} "
                             "WHERE id=?", (status, time.time(), *encoded.values(), one))
                if before is not None and before[0] in ACTIVE and done:
                    self.depth -= 1

        await self._do(op)

    async def get(self, id_: str) -> dict[str, Any] | None:
        """The public view of one notification (no message, no target secrets)."""
        def op(conn: sqlite3.Connection) -> dict[str, Any] | None:
            r = conn.execute("SELECT id, status, channel, route, created, updated, task_ids,"
                             " outcome, error, attempts FROM notifications WHERE id=?",
                             (id_,)).fetchone()
            if r is None:
                return None
            view = dict(r)
            view["task_ids"] = json.loads(view["task_ids"])
            view["outcome"] = json.loads(view["outcome"]) if view["outcome"] else None
            return view

        return await self._do(op)

    async def oldest_age(self) -> float:
        """Seconds the oldest undelivered notification has waited (0 if none)."""
        def op(conn: sqlite3.Connection) -> float:
            oldest = conn.execute("SELECT min(created) FROM notifications WHERE status IN "
                                  "('queued','sending')").fetchone()[0]
            return 0.0 if oldest is None else max(0.0, time.time() - oldest)

        return await self._do(op)

    async def routes_waiting(self) -> set[str]:
        """Webhook routes with queued notifications."""
        return await self._do(lambda conn: {r[0] for r in conn.execute(
            "SELECT DISTINCT route FROM notifications WHERE status='queued' AND "
            "channel='webhook'")})

    async def purge(self, keep: float = KEEP_SECONDS) -> None:
        """Forget expired idempotency keys, and notifications that ended ``keep`` s ago."""
        def op(conn: sqlite3.Connection) -> None:
            now = time.time()
            conn.execute("DELETE FROM idempotency WHERE expires<=?", (now,))
            conn.execute("DELETE FROM notifications WHERE status IN ('sent','delivered',"
                         "'failed') AND updated<?", (now - keep,))

        await self._do(op)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
