"""Broadcast fan-out: batches, bounded concurrency, pacing, retries and a full account.

It knows nothing of HTTP: it is handed ``send``, which makes one attempt for one batch and
returns DingTalk's task_id (or raises). Every batch ends acknowledged or failed; the report
keeps the ids as bytes, which is what holds a 1,000,000-userid broadcast near 100 MB.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from itertools import islice
from typing import Literal

import anyio

from ._concurrency import first_error
from ._constants import MAX_DEPT_IDS_PER_CALL, MAX_USERIDS_PER_CALL
from ._errors import RateLimitedError, RequestTimeoutError, ValidationError
from ._pacing import RATE_LIMIT_RETRIES, AdaptivePacer
from ._retry import RetryPolicy
from ._sendbody import check_userid, encode_userids, unique_dept_ids, valid_userid

logger = logging.getLogger("dingnotify.broadcast")

SendBatch = Callable[[Sequence[bytes], Sequence[int]], Awaitable[int]]
EventKind = Literal["sent", "failed", "retry", "rejected", "skipped"]


def batch_count(userids: int, dept_ids: int) -> int:
    """Calls a broadcast of this many unique userids and dept ids makes (at least one)."""
    return max(-(-userids // MAX_USERIDS_PER_CALL), -(-dept_ids // MAX_DEPT_IDS_PER_CALL), 1)


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

    def take(self, ids: list[object], *, encoded: bool = False) -> list[bytes]:
        """The ids of ``ids`` not seen before, in order; invalid ones are rejected.

        ``encoded``: ``ids`` are already checked UTF-8 bytes (a validated list's ids).
        """
        raws: list[bytes] | None = ids if encoded else encode_userids(ids)  # type: ignore[assignment]
        if raws is None:
            raws = []
            for u in ids:
                if valid_userid(u):
                    raws.append(u.encode())  # type: ignore[attr-defined]
                else:
                    self._report.rejected.append((u, "not a valid DingTalk userid"))
                    self._on_reject(u)
        fresh = set(raws)
        if len(fresh) == len(raws) and self._seen.isdisjoint(fresh):
            self._seen |= fresh  # the common case, all in C
            return raws
        out: list[bytes] = []
        for raw in raws:
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


class _Encoded(list[bytes]):
    """A list of userids already checked and encoded (the list-input fast path)."""


def _encode_checked(userids: Sequence[object]) -> _Encoded:
    """Every id as bytes, or a ValidationError naming the first bad one, before any send."""
    out = _Encoded()
    for start in range(0, len(userids), 1000):
        chunk = userids[start : start + 1000]
        raws = encode_userids(chunk)
        if raws is None:
            for u in chunk:
                check_userid(u)
            raise ValidationError("invalid userid")  # pragma: no cover - check_userid raised
        out.extend(raws)
    return out


class _Source:
    """Hands out batches in input order to any number of workers, without a queue.

    A sync iterable is read inside ``next`` with no await in between, which the event loop
    makes atomic; an async one is read under a lock. Only in-flight batches and the
    report's compact records are ever held, however long the input.
    """

    def __init__(
        self,
        userids: Iterable[object] | AsyncIterable[object],
        batcher: _Batcher,
        report: BroadcastReport,
        acknowledged: Mapping[int, int],
        emit: Callable[..., None],
    ) -> None:
        self._async = userids if isinstance(userids, AsyncIterable) else None
        self._sync = None if isinstance(userids, AsyncIterable) else iter(userids)
        self._encoded = isinstance(userids, _Encoded)
        self._aiter: AsyncIterator[object] | None = None
        self._batcher = batcher
        self._report = report
        self._done = acknowledged
        self._emit = emit
        self._pending: list[bytes] = []
        self._lock = anyio.Lock()
        self.exhausted = False

    async def next(self) -> Batch | None:
        """The next batch to send (acknowledged ones from a resumed run are recorded and
        skipped), or None when the input is used up."""
        while True:
            if self._async is None:
                batch = self._form_sync()
            else:
                async with self._lock:
                    batch = await self._form_async()
            if batch is None:
                return None
            self._report.batches.append(batch)
            task_id = self._done.get(batch.index)
            if task_id is None:
                return batch
            batch.task_id = task_id
            self._emit("skipped", batch)

    def _ready(self) -> Batch | None:
        pending, batcher = self._pending, self._batcher
        if len(pending) >= MAX_USERIDS_PER_CALL or (
            self.exhausted and (pending or batcher.more_needed())
        ):
            batch = batcher.make(pending[:MAX_USERIDS_PER_CALL])
            del pending[:MAX_USERIDS_PER_CALL]
            return batch
        return None

    def _form_sync(self) -> Batch | None:
        assert self._sync is not None
        while (batch := self._ready()) is None and not self.exhausted:
            chunk = list(islice(self._sync, MAX_USERIDS_PER_CALL))
            if chunk:
                self._pending.extend(self._batcher.take(chunk, encoded=self._encoded))
            else:
                self.exhausted = True
        return batch

    async def _form_async(self) -> Batch | None:
        assert self._async is not None
        if self._aiter is None:
            self._aiter = aiter(self._async)
        while (batch := self._ready()) is None and not self.exhausted:
            chunk: list[object] = []
            async for u in self._aiter:
                chunk.append(u)
                if len(chunk) == MAX_USERIDS_PER_CALL:
                    break
            if chunk:
                self._pending.extend(self._batcher.take(chunk))
            else:
                self.exhausted = True
        return batch


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
        pacer = self.pacer
        while True:
            if pacer.rate is not None:  # unpaced broadcasts skip the coroutine entirely
                await pacer.acquire()
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

    async def worker(self, source: _Source) -> None:
        while (batch := await source.next()) is not None:
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
        userids = _encode_checked(userids)  # type: ignore[assignment]
        if not userids and not depts and not allow_empty:
            raise ValidationError("no recipients: give userids or dept_ids")
    report = report if report is not None else BroadcastReport()
    report.started_at = time.monotonic()
    run = _Run(send, report, retry, AdaptivePacer(rate), on_event)
    batcher = _Batcher(
        depts, report, lambda value: run.emit("rejected", None, value=value),
        allow_empty=allow_empty,
    )
    source = _Source(userids, batcher, report, acknowledged or {}, run.emit)
    try:
        with anyio.move_on_after(math.inf if timeout is None else timeout) as scope:
            async with anyio.create_task_group() as tg:
                for _ in range(concurrency):
                    tg.start_soon(run.worker, source)
            report.complete = source.exhausted
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
