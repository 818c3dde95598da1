"""One bell for every delivery loop: rung after each accept."""

from __future__ import annotations

import asyncio

import anyio


class Bell:
    """Wakes every waiting loop at once (an ``asyncio.Event`` wakes only who sees it set)."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def set(self) -> None:
        for event in self._waiters:
            event.set()

    async def wait(self, timeout: float) -> None:
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            with anyio.move_on_after(timeout):
                await event.wait()
        finally:
            self._waiters.discard(event)
