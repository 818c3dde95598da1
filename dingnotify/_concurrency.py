"""Bounded fan-out that fails like a plain call: the first error, not an ExceptionGroup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import anyio

T = TypeVar("T")


def first_error(exc: BaseException) -> BaseException:
    """The first leaf of (nested) exception groups; ``exc`` itself otherwise."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


async def for_each(
    items: Iterable[T], concurrency: int, call: Callable[[T], Awaitable[None]]
) -> None:
    """Run ``call(item)`` for every item, at most ``concurrency`` at once.

    The first failure cancels the rest and is raised as itself, so callers can catch
    ``DingTalkError`` as they would around a single call.
    """
    limiter = anyio.CapacityLimiter(concurrency)
    failure: list[Exception] = []

    async def one(item: T) -> None:
        async with limiter:
            try:
                await call(item)
            except Exception as exc:
                if not failure:
                    failure.append(exc)
                tg.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        for item in items:
            tg.start_soon(one, item)
    if failure:
        raise failure[0]
