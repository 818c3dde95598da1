"""Confirming many send tasks, and recalling them, with bounded concurrency.

It knows no channel: the channel hands in how to poll one task, fetch its result and
merge results (work notifications: ``getsendprogress``, ``getsendresult``).

A task whose recipients are known userids is confirmed from ``getsendresult`` alone when
the result accounts for every one of them: one call instead of a progress poll and a
result. Departments, ``to_all_user`` and results that account for too little fall back to
polling ``getsendprogress`` until DingTalk says done, then fetching the result.

A wait of 10^4 tasks runs for minutes, so one failed poll must not cost it what it has
confirmed: a poll that may succeed later is simply tried again at its task's next poll,
and whatever ends the wait early carries the results confirmed so far.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

import anyio

from .._concurrency import first_error, for_each
from .._errors import (
    DeliveryTimeoutError,
    DingNotifyError,
    HTTPStatusError,
    RateLimitedError,
    ValidationError,
)


class TaskProgress(Protocol):
    """How far one task has got: only whether it is done matters here."""

    @property
    def done(self) -> bool: ...


class TaskResult(Protocol):
    """One task's result: whether it accounts for every one of some userids."""

    def accounts_for(self, userids: Iterable[str]) -> bool: ...


T = TypeVar("T")
R = TypeVar("R", bound=TaskResult)
MAX_POLL_BACKOFF = 8.0
ProgressHook = Callable[[int, int], None]
"""Called as tasks are confirmed: (tasks confirmed so far, tasks in all)."""
PollErrorHook = Callable[[int, Exception], None]
"""Called when a poll failed and will be tried again: (its task id, the error)."""
Retryable = Callable[[BaseException], bool]


@dataclass(frozen=True, slots=True)
class PendingTask:
    """A task to confirm, with its userids when they are all it was sent to."""

    task_id: int
    userids: tuple[str, ...] | None = None


def is_retryable(error: BaseException) -> bool:
    """The errors a later poll may get past: the class's ``retryable`` attribute, as for
    any call (rate limits but the monthly quota, busy answers, 5xx and 429, timeouts and
    dropped connections). Anything else (credentials, permission, a bad task id, a
    malformed answer) would fail every poll the same way."""
    return isinstance(error, DingNotifyError) and error.retryable


def pause_of(error: BaseException) -> float:
    """The least time before polling again that an error asks for: a rate limit's
    ``pause`` (an IP ban's ``wait``), an HTTP answer's ``Retry-After``."""
    if isinstance(error, RateLimitedError):
        return error.pause
    if isinstance(error, HTTPStatusError) and error.retry_after is not None:
        return error.retry_after
    return 0.0


def _check(poll_interval: float, timeout: float | None, concurrency: int) -> None:
    if not 0 <= poll_interval < math.inf:
        raise ValidationError("poll_interval must be a finite number of seconds >= 0")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency must be a positive int")
    if timeout is not None and not 0 < timeout < math.inf:
        raise ValidationError("timeout must be a positive, finite number of seconds")


async def confirm_tasks(
    tasks: Iterable[PendingTask],
    get_progress: Callable[[int], Awaitable[TaskProgress]],
    get_result: Callable[[int], Awaitable[R]],
    *,
    merge: Callable[[Iterable[R]], R],
    poll_interval: float,
    timeout: float | None,
    concurrency: int,
    on_progress: ProgressHook | None = None,
    on_poll_error: PollErrorHook | None = None,
    retryable: Retryable = is_retryable,
) -> R:
    """Every task's result once DingTalk has processed it, merged in task order.

    A poll that fails with a ``retryable`` error (its own retries spent: a network blip
    longer than the retry budget, a burst of 90018) is tried again at that task's next
    poll, no sooner than the error's ``pause_of``, until ``timeout``; each such failure is
    reported to ``on_poll_error``. Any other error is raised at once. Either way, and on
    ``DeliveryTimeoutError``, the error's ``partial_result`` is ``merge`` of the results
    confirmed so far (None when none was): a long wait never discards what it learnt.
    """
    _check(poll_interval, timeout, concurrency)
    ordered = list({t.task_id: t for t in tasks}.values())
    results: dict[int, R] = {}
    limiter = anyio.CapacityLimiter(concurrency)
    failures: list[Exception] = []

    async def call(fn: Callable[[int], Awaitable[T]], task_id: int) -> T:
        async with limiter:
            return await fn(task_id)

    async def settle(task: PendingTask) -> None:
        delay, quick, finished = poll_interval, bool(task.userids), False
        while True:
            try:
                if quick:  # userids only: the result alone may settle it
                    result = await call(get_result, task.task_id)
                    quick = False
                    if task.userids and result.accounts_for(task.userids):
                        return done(task.task_id, result)
                finished = finished or (await call(get_progress, task.task_id)).done
                if finished:
                    return done(task.task_id, await call(get_result, task.task_id))
                pause = 0.0
            except Exception as exc:
                if not retryable(exc):
                    raise
                pause = failed(task.task_id, exc)
            await anyio.sleep(max(delay, pause))
            delay = min(max(delay * 1.5, 0.05), max(poll_interval, MAX_POLL_BACKOFF))

    def done(task_id: int, result: R) -> None:
        results[task_id] = result
        if on_progress is not None:
            on_progress(len(results), len(ordered))

    def failed(task_id: int, error: Exception) -> float:
        failures.append(error)
        if on_poll_error is not None:
            on_poll_error(task_id, error)
        return pause_of(error)

    def confirmed() -> R | None:
        return merge(results[t.task_id] for t in ordered if t.task_id in results) \
            if results else None

    with anyio.move_on_after(math.inf if timeout is None else timeout) as scope:
        try:
            async with anyio.create_task_group() as tg:
                for task in ordered:
                    tg.start_soon(settle, task)
        except BaseExceptionGroup as group:
            cause = first_error(group)
            if isinstance(cause, DingNotifyError):
                cause.partial_result = confirmed()
            if isinstance(cause, Exception):
                raise cause from None
            raise
    if scope.cancelled_caught:
        raise _timed_out(ordered, results, timeout, failures, confirmed())
    return merge(results[t.task_id] for t in ordered)


def _timed_out(ordered: list[PendingTask], results: Mapping[int, object],
               timeout: float | None, failures: list[Exception],
               partial: object) -> DeliveryTimeoutError:
    pending = [t.task_id for t in ordered if t.task_id not in results]
    text = f"{len(pending)} of {len(ordered)} tasks not done after {timeout}s"
    if failures:
        text += f"; {len(failures)} poll(s) failed, the last: {type(failures[-1]).__name__}"
    error = DeliveryTimeoutError(text, pending)
    error.partial_result = partial
    return error


async def recall_tasks(
    task_ids: Iterable[int], recall: Callable[[int], Awaitable[None]], *, concurrency: int
) -> dict[int, Exception]:
    """Recall each task; returns the ones that failed with their error (empty: all recalled)."""
    failures: dict[int, Exception] = {}

    async def one(task_id: int) -> None:
        try:
            await recall(task_id)
        except Exception as exc:
            failures[task_id] = exc

    await for_each(list(dict.fromkeys(task_ids)), concurrency, one)
    return failures
