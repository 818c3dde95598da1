"""SIGTERM ends a command the way Ctrl-C (SIGINT) does.

``asyncio`` turns SIGINT into a cancellation of the main task, so every ``finally`` and
journal write runs before the command says "interrupted"; a SIGTERM (``kill``, systemd,
Kubernetes, a CI timeout) takes the same path here, then exits ``TERMINATED`` (143).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Terminated(Exception):
    """The command was stopped by SIGTERM (after its cleanup ran)."""

    def __str__(self) -> str:
        return "interrupted (SIGTERM)"


async def until_terminated(fn: Callable[[], Awaitable[T]]) -> T:
    """``await fn()``; a SIGTERM meanwhile cancels it like SIGINT and raises ``Terminated``."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    hit = False

    def on_term() -> None:
        nonlocal hit
        hit = True
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_term)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread; Windows
        return await fn()
    try:
        result = await fn()
    except BaseException:  # the cancellation, or what a cleanup made of it (a group)
        if hit:
            raise Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    if hit:  # the command caught the cancellation and stopped early
        raise Terminated
    return result
