"""The shared token store and the token lock (token-owned, expiring, released by a
compare-and-delete script, after redis-py's ``Lock``)."""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from redis.asyncio import Redis

from .._token import MemoryTokenStore
from ._clients import LoopClients
from ._health import Health, Unavailable
from ._scripts import LOCK, UNLOCK


class RedisTokenStore:
    """Tokens in Redis with their TTL, so every process of an app uses one token.

    Writes go to a local copy too: while Redis is unavailable this process keeps using
    (or fetches) its own token instead of failing.
    """

    def __init__(self, client: Redis | LoopClients, prefix: str, health: Health) -> None:
        self._clients = client if isinstance(client, LoopClients) else LoopClients(client)
        self._prefix = prefix
        self._health = health
        self._local = MemoryTokenStore()

    async def get(self, key: str) -> str | None:
        """The shared token (this process's own copy while Redis is unavailable)."""
        try:
            value: Any = await self._health.run(
                lambda: self._clients.current().get(self._prefix + key))
        except Unavailable:
            return await self._local.get(key)
        return value.decode() if isinstance(value, bytes) else value

    async def set(self, key: str, value: str, ttl: float) -> None:
        """Share ``value`` for ``ttl`` seconds (Redis expires it; no process has to)."""
        await self._local.set(key, value, ttl)
        with contextlib.suppress(Unavailable):
            await self._health.run(
                lambda: self._clients.current().set(self._prefix + key, value,
                                                    px=max(1, int(ttl * 1000))))

    async def delete(self, key: str) -> None:
        """Forget a token DingTalk rejected, for every process."""
        await self._local.delete(key)
        with contextlib.suppress(Unavailable):
            await self._health.run(lambda: self._clients.current().delete(self._prefix + key))

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self._prefix!r})"


class RedisTokenLock:
    """The lock one process holds while it fetches a token for all of them.

    It expires after ``timeout`` seconds, so a holder that crashed blocks nobody for
    longer; release deletes it only if this holder's random owner token is still there.
    While Redis is unavailable every process is its own holder (one fetch per process).
    """

    def __init__(self, client: Redis | LoopClients, key: str, health: Health, *,
                 timeout: float) -> None:
        self._clients = client if isinstance(client, LoopClients) else LoopClients(client)
        self._key = key
        self._health = health
        self._timeout_ms = max(1, int(timeout * 1000))
        self._lock = self._clients.latest().register_script(LOCK)
        self._unlock = self._clients.latest().register_script(UNLOCK)
        self._owner: str | None = None

    async def acquire(self) -> float:
        owner = secrets.token_hex(16)
        try:
            left = await self._health.run(
                lambda: self._lock(keys=[self._key], args=[owner, self._timeout_ms],
                                   client=self._clients.current()))
        except Unavailable:
            return 0.0
        if int(left) >= 0:
            return int(left) / 1000
        self._owner = owner
        return 0.0

    async def release(self) -> None:
        owner, self._owner = self._owner, None
        if owner is None:
            return
        with contextlib.suppress(Unavailable):  # then it expires on its own
            await self._health.run(lambda: self._unlock(keys=[self._key], args=[owner],
                                                        client=self._clients.current()))

    def __repr__(self) -> str:
        return f"RedisTokenLock(key={self._key!r}, held={self._owner is not None})"
