"""Broadcast fan-out: batches, bounded concurrency, pacing, retries and a full account.

It knows nothing of HTTP: it is handed ``send``, which makes one attempt for one batch and
returns DingTalk's task_id (or raises). Every batch ends acknowledged or failed; the report
keeps the ids as bytes, which is what holds a 1,000,000-userid broadcast near 100 MB.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from ._concurrency import first_error
from ._constants import MAX_DEPT_IDS_PER_CALL, MAX_USERIDS_PER_CALL
from ._errors import RateLimitedError, RequestTimeoutError, ValidationError
from ._pacing import AdaptivePacer
from ._retry import RetryPolicy
from ._sendbody import check_userid, unique_dept_ids, valid_userid

logger = logging.getLogger("dingnotify.broadcast")

SendBatch = Callable[[Sequence[bytes], Sequence[int]], Awaitable[int]]
EventKind = Literal["sent", "failed", "retry", "rejected", "skipped"]
# 90018 means "not processed": safe to retry, so it has its own, larger budget.
RATE_LIMIT_RETRIES = 12


class BroadcastTimeoutError(RequestTimeoutError):
    """The broadcast's overall deadline passed before this batch was acknowledged."""


class BroadcastCancelledError(RequestTimeoutError):
    """The broadcast was cancelled before this batch was acknowledged."""


@dataclass(eq=False, slots=True)
class Batch:
    """One asyncsend_v2 call: up to 100 userids and 20 dept ids, in input order."""

    index: int
    raw_userids: tuple[bytes, ...]
    dept_ids: tuple[int, ...]
    task_id: int | None = None
    error: BaseException | None = None
    attempts: int = 0

    @property
    def userids(self) -> tuple[str, ...]:
        return tuple(u.decode() for u in self.raw_userids)

    @property
    def state(self) -> Literal["pending", "acknowledged", "failed"]:
        if self.task_id is not None:
            return "acknowledged"
        return "failed" if self.error is not None else "pending"

    def __repr__(self) -> str:
        return (
            f"Batch(index={self.index}, userids={len(self.raw_userids)}, "
            f"dept_ids={len(self.dept_ids)}, task_id={self.task_id}, state={self.state!r})"
        )


@dataclass(frozen=True, slots=True)
class BroadcastEvent:
    """Progress: a batch sent, failed, retried or skipped (resumed), or an input rejected."""

    kind: EventKind
    report: BroadcastReport
    batch: Batch | None = None
    error: BaseException | None = None
    delay: float = 0.0
    value: object = None


@dataclass(eq=False)
class BroadcastReport:
    """What happened to every batch. ``complete`` is False after a deadline or cancel."""

    batches: list[Batch] = field(default_factory=list)
    rejected: list[tuple[object, str]] = field(default_factory=list)
    recipients: int = 0
    retries: int = 0
    rate_limited: int = 0
    complete: bool = False
    timed_out: bool = False
    cancelled: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def task_ids(self) -> list[int]:
        """Acknowledged task ids, in batch order."""
        return [b.task_id for b in self.batches if b.task_id is not None]

    @property
    def acknowledged(self) -> list[Batch]:
        return [b for b in self.batches if b.task_id is not None]

    @property
    def failed(self) -> list[Batch]:
        return [b for b in self.batches if b.task_id is None and b.error is not None]

    @property
    def elapsed(self) -> float:
        end = self.finished_at or time.monotonic()
        return end - self.started_at if self.started_at else 0.0

    def __repr__(self) -> str:
        return (
            f"BroadcastReport(batches={len(self.batches)}, acknowledged={len(self.acknowledged)},"
            f" failed={len(self.failed)}, recipients={self.recipients}, "
            f"complete={self.complete})"
        )


class _Batcher:
    """Consecutive slices of the de-duplicated input (ids kept as bytes to save memory)."""

    def __init__(
        self,
        dept_ids: list[int],
        report: BroadcastReport,
        on_reject: Callable[[object], None],
        *,
        allow_empty: bool = False,
    ) -> None:
        self._seen: set[bytes] = set()
        self._depts = dept_ids
        self._report = report
        self._on_reject = on_reject
        self._index = 0
        self._allow_empty = allow_empty

    def take(self, ids: list[object]) -> list[bytes]:
        out: list[bytes] = []
        for u in ids:
            if not valid_userid(u):
                self._report.rejected.append((u, "not a valid DingTalk userid"))
                self._on_reject(u)
                continue
            raw = u.encode()  # type: ignore[attr-defined]
            if raw not in self._seen:
                self._seen.add(raw)
                out.append(raw)
        return out

    def make(self, raw: list[bytes]) -> Batch:
        start = self._index * MAX_DEPT_IDS_PER_CALL
        depts = tuple(self._depts[start : start + MAX_DEPT_IDS_PER_CALL])
        batch = Batch(self._index, tuple(raw), depts)
        self._index += 1
        self._report.recipients += len(raw)
        return batch

    def more_needed(self) -> bool:
        """Dept ids remain, or nothing at all was batched yet for a to_all_user call."""
        if self._allow_empty and self._index == 0:
            return True
        return self._index * MAX_DEPT_IDS_PER_CALL < len(self._depts)


async def _read_batches(
    userids: Iterable[str] | AsyncIterable[str], batcher: _Batcher
) -> AsyncIterable[Batch]:
    pending: list[bytes] = []
    if isinstance(userids, AsyncIterable):
        async for u in userids:
            pending.extend(batcher.take([u]))
            while len(pending) >= MAX_USERIDS_PER_CALL:
                yield batcher.make(pending[:MAX_USERIDS_PER_CALL])
                del pending[:MAX_USERIDS_PER_CALL]
    else:
        iterator = iter(userids)
        while True:
            chunk: list[object] = []
            for u in iterator:
                chunk.append(u)
                if len(chunk) == MAX_USERIDS_PER_CALL:
                    break
            if not chunk:
                break
            pending.extend(batcher.take(chunk))
            while len(pending) >= MAX_USERIDS_PER_CALL:
                yield batcher.make(pending[:MAX_USERIDS_PER_CALL])
                del pending[:MAX_USERIDS_PER_CALL]
    while pending or batcher.more_needed():
        yield batcher.make(pending[:MAX_USERIDS_PER_CALL])
        del pending[:MAX_USERIDS_PER_CALL]


@dataclass
class _Run:
    send: SendBatch
    report: BroadcastReport
    retry: RetryPolicy
    pacer: AdaptivePacer
    on_event: Callable[[BroadcastEvent], None] | None

    def emit(self, kind: EventKind, batch: Batch | None, **extra: object) -> None:
        if self.on_event is not None:
            self.on_event(BroadcastEvent(kind, self.report, batch, **extra))  # type: ignore[arg-type]

    async def deliver(self, batch: Batch) -> None:
        failures = throttles = 0
        while True:
            await self.pacer.acquire()
            batch.attempts += 1
            try:
                batch.task_id = await self.send(batch.raw_userids, batch.dept_ids)
            except Exception as exc:
                if isinstance(exc, RateLimitedError) and throttles < RATE_LIMIT_RETRIES:
                    throttles += 1
                    self.report.rate_limited += 1
                    self.pacer.throttled()
                elif self.retry.should_retry(exc, failures + 1):
                    failures += 1
                else:
                    batch.error = exc
                    self.emit("failed", batch, error=exc)
                    return
                delay = self.retry.delay(failures + throttles, exc)
                self.report.retries += 1
                self.emit("retry", batch, error=exc, delay=delay)
                await anyio.sleep(delay)
                continue
            self.pacer.succeeded()
            self.emit("sent", batch)
            return

    async def worker(self, receive: ObjectReceiveStream[Batch]) -> None:
        async with receive:
            async for batch in receive:
                await self.deliver(batch)


async def run_broadcast(
    send: SendBatch,
    userids: Iterable[str] | AsyncIterable[str],
    dept_ids: Iterable[int] = (),
    *,
    concurrency: int,
    rate: float | None = None,
    retry: RetryPolicy,
    timeout: float | None = None,
    on_event: Callable[[BroadcastEvent], None] | None = None,
    report: BroadcastReport | None = None,
    acknowledged: Mapping[int, int] | None = None,
    allow_empty: bool = False,
) -> BroadcastReport:
    """Send every batch through ``send`` with at most ``concurrency`` in flight.

    ``acknowledged`` maps batch index -> task_id of batches a previous run already got
    acknowledged (a resumed journal): those are recorded, not re-sent. Pass ``report`` to
    keep a handle on progress that survives cancellation.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency must be a positive int")
    if timeout is not None and timeout <= 0:
        raise ValidationError("timeout must be positive")
    depts = unique_dept_ids(dept_ids)
    if isinstance(userids, str | bytes):
        raise ValidationError("userids must be an iterable of userids, not one string")
    if isinstance(userids, Sequence):
        for u in userids:
            check_userid(u)
        if not userids and not depts and not allow_empty:
            raise ValidationError("no recipients: give userids or dept_ids")
    report = report if report is not None else BroadcastReport()
    report.started_at = time.monotonic()
    run = _Run(send, report, retry, AdaptivePacer(rate), on_event)
    done = acknowledged or {}
    batcher = _Batcher(
        depts, report, lambda value: run.emit("rejected", None, value=value),
        allow_empty=allow_empty,
    )
    send_stream, receive_stream = anyio.create_memory_object_stream[Batch](concurrency)

    async def produce(stream: ObjectSendStream[Batch]) -> None:
        async with stream:
            async for batch in _read_batches(userids, batcher):
                report.batches.append(batch)
                if batch.index in done:
                    batch.task_id = done[batch.index]
                    run.emit("skipped", batch)
                else:
                    await stream.send(batch)
        report.complete = True

    try:
        with anyio.move_on_after(math.inf if timeout is None else timeout) as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(produce, send_stream)
                for _ in range(concurrency):
                    tg.start_soon(run.worker, receive_stream.clone())
                receive_stream.close()
        if scope.cancelled_caught:
            report.timed_out = True
            _close_out(report, BroadcastTimeoutError(f"broadcast deadline of {timeout}s passed"))
    except BaseException as exc:
        report.cancelled = True
        _close_out(report, BroadcastCancelledError("broadcast cancelled"))
        cause = first_error(exc)
        if cause is not exc and isinstance(cause, Exception):
            raise cause from None  # e.g. the userid iterator or an event hook failed
        raise
    finally:
        report.finished_at = time.monotonic()
    if report.complete and not report.batches:
        raise ValidationError("no recipients: the userid iterable was empty or all invalid")
    return report


def _close_out(report: BroadcastReport, error: BaseException) -> None:
    report.complete = False
    for batch in report.batches:
        if batch.state == "pending":
            batch.error = error
