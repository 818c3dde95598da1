"""Delivery: queued notifications sent through one client, their results confirmed.

A notification is marked ``sending`` before its first request and ``sent`` (with its task
ids) after DingTalk accepted it, so a crash in between sends it again on restart (at least
once); a sent work notice is confirmed with ``wait`` and becomes ``delivered``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import anyio

from .. import DingNotifyError, DingTalkClient, ValidationError
from ..webhook import WebhookRobot
from ._bell import Bell
from ._channels import outcome_of, send_robot, send_work_notice
from ._digest import PER_MINUTE, Pacer, digest, pack
from ._metrics import Metrics
from ._queue import Queue, Row

log = logging.getLogger("dingnotify.relay")
MAX_ATTEMPTS = 8
WAIT_TIMEOUT = 600.0
DIGEST_CLAIM = 500
PURGE_EVERY = 600.0


def backoff(attempts: int) -> float:
    return float(min(300, 2 ** attempts))


class Deliverer:
    """Runs until cancelled; every notification ends sent, delivered or failed."""

    def __init__(self, client: DingTalkClient, queue: Queue, metrics: Metrics, bell: Bell,
                 webhooks: Mapping[str, WebhookRobot], *, concurrency: int = 8,
                 poll: float = 1.0, webhook_window: tuple[int, float] = (PER_MINUTE, 60.0)
                 ) -> None:
        self.client, self.queue, self.metrics, self.bell = client, queue, metrics, bell
        self.webhooks = webhooks
        self.concurrency = concurrency
        self.poll = poll
        self.webhook_window = webhook_window
        self._free = asyncio.Semaphore(concurrency)
        self._confirming = asyncio.Semaphore(concurrency)
        self._purge_at = 0.0

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            for row in await self.queue.unconfirmed():
                tg.start_soon(self._confirm, row.id, row.task_ids, {})
            for route, robot in self.webhooks.items():
                tg.start_soon(self._digests, route, robot)
            await self._work(tg)

    async def _work(self, tg: anyio.abc.TaskGroup) -> None:
        while True:
            await self._free.acquire()
            free = 1
            while not self._free.locked() and free < self.concurrency:
                await self._free.acquire()
                free += 1
            rows = await self.queue.claim(free)
            for _ in range(free - len(rows)):
                self._free.release()
            for row in rows:
                tg.start_soon(self._one, row, tg)
            if not rows:
                await self._idle()

    async def _idle(self) -> None:
        if time.monotonic() >= self._purge_at:  # expired keys, week-old notifications
            self._purge_at = time.monotonic() + PURGE_EVERY
            await self.queue.purge()
        await self.bell.wait(self.poll)

    async def _one(self, row: Row, tg: anyio.abc.TaskGroup) -> None:
        try:
            if row.channel == "work_notice":
                task_ids, outcome = await send_work_notice(self.client, row.target,
                                                           row.messages)
            else:
                keys, outcome = await send_robot(self.client, row.target, row.messages)
                await self._finish([row.id], "sent", task_ids=keys, outcome=outcome)
                return
        except Exception as exc:  # whatever it was: retried or failed
            await self._failed([row], exc)
            return
        finally:
            self._free.release()
        if not task_ids:  # every mobile unknown: nobody to send to
            await self._finish([row.id], "failed", outcome=outcome,
                               error="no recipient: every mobile is unknown")
            return
        await self._finish([row.id], "sent", task_ids=task_ids, outcome=outcome or None)
        tg.start_soon(self._confirm, row.id, task_ids, outcome)

    async def _finish(self, ids: list[str], status: str, **fields: object) -> None:
        await self.queue.update(ids, status, **fields)
        self.metrics.add(status, len(ids))

    async def _failed(self, rows: list[Row], exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"
        attempts = rows[0].attempts + 1
        if isinstance(exc, ValidationError) or attempts >= MAX_ATTEMPTS:
            await self._finish([r.id for r in rows], "failed", error=error, attempts=attempts)
            return
        log.warning("relay: %d notification(s) failed (%s), retrying", len(rows), error)
        await self.queue.update([r.id for r in rows], "queued", error=error,
                                attempts=attempts, next_at=time.time() + backoff(attempts))
        self.metrics.add("retried", len(rows))

    async def _confirm(self, id_: str, task_ids: list[int], known: dict[str, str]) -> None:
        async with self._confirming:
            try:
                result = await self.client.work_notice.wait(task_ids, timeout=WAIT_TIMEOUT)
            except Exception as exc:  # it stays sent, the error shown
                await self.queue.update([id_], "sent", error=f"{type(exc).__name__}: {exc}")
                return
        await self._finish([id_], "delivered", outcome={**known, **outcome_of(result)})

    async def _digests(self, route: str, robot: WebhookRobot) -> None:
        pacer = Pacer(*self.webhook_window)
        while True:
            if await pacer.ready(asyncio.sleep):
                self.metrics.add("rate_limit_waits")
            rows = await self.queue.claim(DIGEST_CLAIM, route=route)
            if not rows:
                await self.bell.wait(self.poll)
                continue
            messages = [m for r in rows for m in r.messages]
            take = pack(messages)
            carried = _rows_covering(rows, take)
            if len(carried) < len(rows):
                await self.queue.update([r.id for r in rows[len(carried):]], "queued")
            await self._send_digest(robot, pacer, carried,
                                    [m for r in carried for m in r.messages])

    async def _send_digest(self, robot: WebhookRobot, pacer: Pacer, rows: list[Row],
                           messages: list[dict[str, object]]) -> None:
        try:
            parts = await robot.send(digest(messages), split=True)
        except DingNotifyError as exc:
            pacer.record(1)
            await self._failed(rows, exc)
            return
        pacer.record(parts)
        if len(rows) > 1:
            self.metrics.add("digests")
        await self._finish([r.id for r in rows], "sent")


def _rows_covering(rows: list[Row], messages: int) -> list[Row]:
    """The oldest rows whose messages add up to at most ``messages`` (at least one row)."""
    taken: list[Row] = []
    count = 0
    for row in rows:
        count += len(row.messages)
        if taken and count > messages:
            break
        taken.append(row)
    return taken
