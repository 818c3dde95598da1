"""One Redis client per event loop, from one set of connection settings.

A redis-py client's connections belong to the loop that opened them: reused under the
next ``asyncio.run`` (a Celery task, a script run twice), they fail with "Event loop is
closed". So a coordination keeps the client it was given for the first loop that uses it,
and builds a twin (same connection class and settings, a pool of its own) for each later
loop. Each loop's client is closed when that loop cancels its remaining tasks on the way
out (``asyncio.run`` does), by a task that only waits for that moment: it first runs the
exit hooks (a governor sends the completions it still owes Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import ConnectionPool, Redis


class LoopClients:
    """The Redis client of the running event loop (see the module docstring)."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: asyncio.Task[None] | None = None
        self.exit_hooks: list[Callable[[], Awaitable[None]]] = []

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the current client belongs to (None before first use)."""
        return self._loop

    def current(self) -> Redis:
        """The running loop's client, built on first use in that loop."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                self._client = _twin(self._client)
            self._loop = loop
            self._closer = loop.create_task(self._close_at_exit(self._client))
        return self._client

    async def aclose(self) -> None:
        """Close the running loop's client (a later loop gets a fresh one)."""
        if self._closer is not None and self._loop is asyncio.get_running_loop():
            self._closer.cancel()
            await asyncio.gather(self._closer, return_exceptions=True)
            self._closer = None
        await self.current().aclose()

    def latest(self) -> Redis:
        """The client of the last loop that used one (the first client before any)."""
        return self._client

    async def _close_at_exit(self, client: Redis) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            task = asyncio.current_task()
            if task is not None:  # the loop's last chores are work, not cancelled work
                task.uncancel()
            for _ in range(3):  # the other cancelled tasks give their connections back first
                await asyncio.sleep(0)
            for hook in self.exit_hooks:
                with contextlib.suppress(Exception):
                    await hook()
            await client.aclose()

    def __repr__(self) -> str:
        return f"LoopClients(bound={self._loop is not None})"


def _twin(client: Redis) -> Redis:
    """A client with ``client``'s settings and a fresh connection pool."""
    pool = client.connection_pool
    kwargs: dict[str, Any] = dict(pool.connection_kwargs)
    fresh = ConnectionPool(connection_class=pool.connection_class,
                           max_connections=pool.max_connections, **kwargs)
    return Redis.from_pool(fresh)  # closes its pool on aclose()
