"""Confirming many send tasks, and recalling them, with bounded concurrency.

It knows no channel: the channel hands in how to poll one task, fetch its result and
merge results (work notifications: ``getsendprogress``, ``getsendresult``).

A task whose recipients are known userids is confirmed from ``getsendresult`` alone when
the result accounts for every one of them: one call instead of a progress poll and a
result. Departments, ``to_all_user`` and results that account for too little fall back to
polling ``getsendprogress`` until DingTalk says done, then fetching the result.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import anyio

from .._concurrency import first_error, for_each
from .._errors import DeliveryTimeoutError, ValidationError


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


@dataclass(frozen=True, slots=True)
class PendingTask:
    """A task to confirm, with its userids when they are all it was sent to."""

    task_id: int
    userids: tuple[str, ...] | None = None


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
) -> R:
    """Every task's result once DingTalk has processed it, merged in task order."""
    if not 0 <= poll_interval < math.inf:
        raise ValidationError("poll_interval must be a finite number of seconds >= 0")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency must be a positive int")
    if timeout is not None and not 0 < timeout < math.inf:
        raise ValidationError("timeout must be a positive, finite number of seconds")
    ordered = list({t.task_id: t for t in tasks}.values())
    results: dict[int, R] = {}
    limiter = anyio.CapacityLimiter(concurrency)

    async def call(fn: Callable[[int], Awaitable[T]], task_id: int) -> T:
        async with limiter:
            return await fn(task_id)

    async def settle(task: PendingTask) -> None:
        if task.userids:
            result = await call(get_result, task.task_id)
            if result.accounts_for(task.userids):
                return done(task.task_id, result)
        delay = poll_interval
        while not (await call(get_progress, task.task_id)).done:
            await anyio.sleep(delay)
            delay = min(max(delay * 1.5, 0.05), max(poll_interval, MAX_POLL_BACKOFF))
        done(task.task_id, await call(get_result, task.task_id))

    def done(task_id: int, result: R) -> None:
        results[task_id] = result
        if on_progress is not None:
            on_progress(len(results), len(ordered))

    with anyio.move_on_after(math.inf if timeout is None else timeout) as scope:
        try:
            async with anyio.create_task_group() as tg:
                for task in ordered:
                    tg.start_soon(settle, task)
        except BaseExceptionGroup as group:
            cause = first_error(group)
            if isinstance(cause, Exception):
                raise cause from None
            raise
    if scope.cancelled_caught:
        pending = [t.task_id for t in ordered if t.task_id not in results]
        raise DeliveryTimeoutError(
            f"{len(pending)} of {len(ordered)} tasks not done after {timeout}s", pending
        )
    return merge(results[t.task_id] for t in ordered)


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
