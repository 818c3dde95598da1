"""The broadcast run loop: bounded concurrency, one outcome per batch, a full account.

It knows nothing of HTTP: it is handed ``send``, which makes one call (retries, quota and
tokens are the client's business) for one batch and returns the receipt DingTalk answered
with (``K``: whatever the channel's call returns). Every batch ends acknowledged, failed
(certainly not sent) or unknown (may have been sent).

The run stops early when the answers prove no batch can succeed (``report.stopped_by``;
the batches not sent are failed with that error):

* a ``QuotaExhaustedError`` (the organisation's monthly calls are used up, 90020), at once;
* a rate-limit storm: ``rate_limit_stop`` batches in a row (``max(2, concurrency)`` by
  default) each failed with a ``RateLimitedError`` (403 ``QpsLimit``, 90018 and kin)
  after its whole rate-limit retry budget, with no batch acknowledged in between. The
  workers keep ``concurrency`` calls in flight, so under a storm the batches fail in waves
  of ``concurrency``: a whole wave spending its retries (by default 12 attempts each,
  seconds of backoff) without one call getting through anywhere shows the API's rate
  budget is taken (by another process, or DingTalk's own penalty), and the next wave
  would only spend as many requests to fail the same way. One acknowledged batch resets
  the count, so a transient throttle (some 403s, then answers) never stops a run. The
  first wave need not spend its whole budget to prove it: ``STORM_ANSWERS`` rate-limit
  answers per worker of ``rate_limit_stop`` in a row (48 at concurrency 16), none
  acknowledged in between, prove the same a few backoffs in. Once stopped, a batch in
  flight gives up at its next rate-limit answer (the call was certainly not processed)
  and is failed with the same error.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Generic, TypeAlias

import anyio

from .._concurrency import first_error
from .._errors import (
    BroadcastCancelledError,
    BroadcastTimeoutError,
    QuotaExhaustedError,
    RateLimitedError,
    ValidationError,
)
from .._quota import RateCap
from .._recipients import BatchPlanner, UserIdStream
from .._retry import RetryHook
from ._report import Batch, BroadcastEvent, BroadcastReport, EventKind, K
from ._source import BatchSource

logger = logging.getLogger("dingnotify.broadcast")

AttemptHook = Callable[[], None]
SendBatch: TypeAlias = Callable[[Batch[K], AttemptHook, RetryHook], Awaitable[K]]
"""``send(batch, on_attempt, on_retry)``: one call for one batch, returning its receipt
(a work notification's task id, a robot's ``processQueryKey``)."""
EventHook: TypeAlias = Callable[[BroadcastEvent[K]], None]
STORM_ANSWERS = 3
"""Rate-limit answers in a row per worker of ``rate_limit_stop`` that prove a storm: three
backoffs each (1 + 2 + 4 s by default) with nothing getting through anywhere."""


@dataclass
class _Run(Generic[K]):
    send: SendBatch[K]
    report: BroadcastReport[K]
    cap: RateCap | None
    on_event: EventHook[K] | None
    rate_limit_stop: int = 2
    stop: BaseException | None = None
    failure: BaseException | None = None
    throttled_in_a_row: int = 0  # batches failed rate-limited since the last acknowledged
    throttled_answers: int = 0  # rate-limit answers since the last acknowledged batch

    def emit(self, kind: EventKind, batch: Batch[K] | None, **extra: object) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(BroadcastEvent(kind, self.report, batch, **extra))  # type: ignore[arg-type]
        except Exception as exc:  # the caller's hook failed: stop taking batches, re-raise later
            self.failure = self.failure or exc

    async def deliver(self, batch: Batch[K]) -> None:
        if self.cap is not None:
            await self.cap.acquire()

        def on_retry(number: int, exc: BaseException, wait: float) -> None:
            batch.ended(exc)
            self.report.retries += 1
            if isinstance(exc, RateLimitedError):
                self.report.rate_limited += 1
                self.throttled_answers += 1
                if self.throttled_answers >= STORM_ANSWERS * self.rate_limit_stop:
                    self.stop = self.stop or exc
                if self.stop is not None:  # not processed: give up, the run has stopped
                    raise _Stopped
            self.emit("retry", batch, error=exc, delay=wait)

        try:
            batch.task_id = await self.send(batch, batch.started, on_retry)
        except _Stopped:
            assert self.stop is not None
            batch.error = self.stop
            self.emit("failed", batch, error=self.stop)
            return
        except Exception as exc:
            batch.ended(exc)
            batch.error = exc
            if isinstance(exc, RateLimitedError):
                self.report.rate_limited += 1
            if isinstance(exc, QuotaExhaustedError):
                self.stop = self.stop or exc
            elif isinstance(exc, RateLimitedError):
                self.throttled_in_a_row += 1
                if self.throttled_in_a_row >= self.rate_limit_stop:
                    self.stop = self.stop or exc
            self.emit("failed", batch, error=exc)
            return
        finally:
            batch.userid_list = None  # the body is built: the report keeps the tuple only
        batch.ended(None)
        self.throttled_in_a_row = self.throttled_answers = 0
        self.emit("sent", batch)

    def halted(self) -> bool:
        return self.stop is not None or self.failure is not None

    async def dispatch(self, source: BatchSource[K], concurrency: int) -> None:
        """Up to ``concurrency`` workers, each taking the next batch as it finishes one.

        A worker is started only for a batch in hand, so workers never outnumber the
        batches; a worker goes straight on to its next batch, with no task, semaphore or
        wake-up per batch. A failing input lets the batches in flight finish first.
        """
        take = _Taker(self, source)
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                batch = await take()
                if batch is None:
                    return
                tg.start_soon(self._work, batch, take)

    async def _work(self, batch: Batch[K] | None, take: _Taker[K]) -> None:
        while batch is not None:
            await self.deliver(batch)
            batch = await take()

    def close_out(self, batch: Batch[K]) -> None:
        batch.userid_list = None
        if self.stop is not None:
            batch.error = self.stop
            self.emit("failed", batch, error=self.stop)


class _Stopped(Exception):
    """Raised from the retry hook: the run stopped, this batch's retries end here."""


class _Taker(Generic[K]):
    """The next batch for a worker, or None when the input is done or the run halted.

    An async iterable cannot serve two readers at once, so its reads take a lock; a
    plain iterable is read without awaiting, hence one reader at a time anyway.
    """

    def __init__(self, run: _Run[K], source: BatchSource[K]) -> None:
        self._run = run
        self._source = source
        self._lock = anyio.Lock() if source.is_async else None

    async def __call__(self) -> Batch[K] | None:
        run = self._run
        if run.halted():
            return None
        try:
            if self._lock is None:
                batch = await self._source.next()
            else:
                async with self._lock:
                    batch = await self._source.next()
        except Exception as exc:  # the userid iterable failed
            run.failure = run.failure or exc
            return None
        if batch is not None and run.halted():
            run.close_out(batch)
            return None
        return batch


async def run_broadcast(
    send: SendBatch[K],
    userids: UserIdStream,
    *,
    planner: BatchPlanner,
    concurrency: int,
    rate: float | None = None,
    timeout: float | None = None,
    on_event: EventHook[K] | None = None,
    report: BroadcastReport[K] | None = None,
    acknowledged: Mapping[int, K] | None = None,
    at_least_one: bool = False,
    rate_limit_stop: int | None = None,
    unknown: Collection[int] = (),
) -> BroadcastReport[K]:
    """Send every batch through ``send`` with at most ``concurrency`` in flight.

    ``acknowledged`` maps batch index -> receipt of batches a previous run already got
    acknowledged (a resumed journal): those are recorded, not re-sent. ``unknown`` holds
    the indexes of batches a previous run left unknown whose API does not drop a repeat
    (the robot's): they are recorded unknown again, never re-sent. Pass ``report`` to
    keep a handle on progress that survives cancellation. ``at_least_one``: send one batch
    even with no recipients of its own (``to_all_user``). ``rate_limit_stop``: how many
    batches in a row failing rate-limited, none acknowledged in between, stop the run
    (default ``max(2, concurrency)``; see the module's docstring).
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency must be a positive int")
    if rate_limit_stop is None:
        rate_limit_stop = max(2, concurrency)
    check_rate_limit_stop(rate_limit_stop)
    if timeout is not None and not 0 < timeout < math.inf:
        raise ValidationError("timeout must be a positive, finite number of seconds")
    if report is None:
        report = BroadcastReport[K]()
    run = _Run(send, report, RateCap(rate) if rate is not None else None, on_event,
               rate_limit_stop)
    source = BatchSource(
        userids, planner, report, acknowledged or {},
        reject=lambda value: run.emit("rejected", None, value=value),
        skip=lambda batch: run.emit("skipped", batch),
        at_least_one=at_least_one, unknown=unknown,
    )
    report.started_at = time.monotonic()
    try:
        with anyio.move_on_after(math.inf if timeout is None else timeout) as scope:
            await run.dispatch(source, concurrency)
        if scope.cancelled_caught:
            report.timed_out = True
            _close_out(report, BroadcastTimeoutError(f"broadcast deadline of {timeout}s passed"))
        elif run.stop is not None:
            await _fail_rest(run, source)
    except BaseException as exc:
        report.cancelled = True
        _close_out(report, BroadcastCancelledError("broadcast cancelled"))
        cause = first_error(exc)
        if cause is not exc and isinstance(cause, Exception):
            raise cause from None
        raise
    finally:
        report.finished_at = time.monotonic()
    report.stopped_by = run.stop
    report.complete = source.exhausted and run.stop is None and not report.timed_out
    if run.failure is not None:
        report.complete = False
        raise run.failure
    if report.complete and not report.batches:
        raise ValidationError("no recipients: the userid iterable was empty or all invalid")
    return report


def check_rate_limit_stop(value: object) -> None:
    """``rate_limit_stop`` an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("rate_limit_stop must be an int >= 1")


async def _fail_rest(run: _Run[K], source: BatchSource[K]) -> None:
    """The run stopped (the monthly quota ran out, a rate-limit storm): every batch not
    yet sent is failed with that error."""
    while (batch := await source.next()) is not None:
        run.close_out(batch)


def _close_out(report: BroadcastReport[K], error: BaseException) -> None:
    report.complete = False
    for batch in report.batches:
        if batch.state == "pending":
            batch.close_out(error)
