"""One Redis client per event loop, from one set of connection settings.

A redis-py client's connections belong to the loop that opened them: reused under the
next ``asyncio.run`` (a Celery task, a script run twice), they fail with "Event loop is
closed". So a coordination keeps the client it was given for the first loop that uses it,
and builds a twin (same connection class and settings, a pool of its own) for each later
loop, dropping the previous one: its loop is gone, and its sockets with it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import ConnectionPool, Redis


class LoopClients:
    """The Redis client of the running event loop (see the module docstring)."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the current client belongs to (None before first use)."""
        return self._loop

    def current(self) -> Redis:
        """The running loop's client, built on first use in that loop."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            self._client = _twin(self._client)
            self._loop = loop
        return self._client

    def latest(self) -> Redis:
        """The client of the last loop that used one (the first client before any)."""
        return self._client

    def __repr__(self) -> str:
        return f"LoopClients(bound={self._loop is not None})"


def _twin(client: Redis) -> Redis:
    """A client with ``client``'s settings and a fresh connection pool."""
    pool = client.connection_pool
    kwargs: dict[str, Any] = dict(pool.connection_kwargs)
    fresh = ConnectionPool(connection_class=pool.connection_class,
                           max_connections=pool.max_connections, **kwargs)
    return Redis.from_pool(fresh)  # closes its pool on aclose()
