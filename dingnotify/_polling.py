"""Waiting on many send tasks: bounded-concurrency progress polls, then merged results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import anyio

from ._concurrency import for_each
from ._errors import RequestTimeoutError, ValidationError
from .models import SendProgress, SendResult

MAX_POLL_BACKOFF = 8.0


class DeliveryTimeoutError(RequestTimeoutError):
    """``wait`` ran out of time; ``pending`` lists the tasks DingTalk had not finished."""

    def __init__(self, message: str, pending: list[int]) -> None:
        super().__init__(message)
        self.pending = pending


async def wait_for_tasks(
    task_ids: Iterable[int],
    get_progress: Callable[[int], Awaitable[SendProgress]],
    get_result: Callable[[int], Awaitable[SendResult]],
    *,
    poll_interval: float,
    timeout: float | None,
    concurrency: int,
) -> SendResult:
    """Poll until every task reports status 2, then merge their send results in task order."""
    if poll_interval < 0 or concurrency < 1:
        raise ValidationError("poll_interval must be >= 0 and concurrency >= 1")
    ordered = list(dict.fromkeys(task_ids))
    pending = list(ordered)
    delay = poll_interval
    results: dict[int, SendResult] = {}

    async def poll(task_id: int) -> None:
        if (await get_progress(task_id)).done:
            pending.remove(task_id)

    async def fetch(task_id: int) -> None:
        results[task_id] = await get_result(task_id)

    with anyio.move_on_after(timeout if timeout is not None else float("inf")) as scope:
        while pending:
            await for_each(list(pending), concurrency, poll)
            if pending:
                await anyio.sleep(delay)
                delay = min(max(delay * 1.5, 0.05), max(poll_interval, MAX_POLL_BACKOFF))
        await for_each(ordered, concurrency, fetch)
    if scope.cancelled_caught:
        raise DeliveryTimeoutError(
            f"{len(pending)} of {len(ordered)} tasks not done after {timeout}s", list(pending)
        )
    return SendResult.merge(results[t] for t in ordered)


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
