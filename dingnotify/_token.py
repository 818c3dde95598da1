"""Access-token cache with single-flight refresh; the only place that knows how tokens expire."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import anyio

from ._constants import TOKEN_FALLBACK_TTL, TOKEN_REFRESH_MARGIN
from ._coordination import TokenLock, single_flight
from ._errors import DingNotifyError
from ._redact import Secret

Clock = Callable[[], float]
FetchToken = Callable[[float], Awaitable[tuple[Secret, float]]]
"""Fetches a token within a timeout: returns it and its lifetime in seconds (0: unknown)."""


@runtime_checkable
class TokenStore(Protocol):
    """Where tokens live; plug in a shared store (Redis, ...) to share one across processes."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...


class MemoryTokenStore:
    """The default store: a dict with expiry, on the refresher's clock; each token is held
    as a ``Secret`` (no repr, debugger or heap walk shows it as a plain string)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[str, tuple[Secret, float]] = {}

    async def get(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None or item[1] <= self._clock():
            return None
        return item[0].reveal()

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._items[key] = (Secret(value), self._clock() + ttl)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    def __repr__(self) -> str:
        return f"MemoryTokenStore(keys={len(self._items)})"


class TokenRefresher:
    """Hands out a valid token; any number of racing callers cause one fetch.

    The hot path is a local check with no await. Refreshes happen ``margin`` seconds before
    DingTalk's expiry, under a lock, and every caller re-checks after taking the lock. The
    token is held as a ``Secret`` so no frame or repr ever shows it.
    """

    def __init__(
        self,
        fetch: FetchToken,
        *,
        key: str,
        store: TokenStore | None = None,
        lock: TokenLock | None = None,
        margin: float = TOKEN_REFRESH_MARGIN,
        clock: Clock = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._key = key
        self._clock = clock
        self._store: TokenStore = store if store is not None else MemoryTokenStore(clock)
        self._shared_lock = lock
        self._margin = margin
        self._lock = anyio.Lock()
        self._token: Secret | None = None
        self._valid_until = 0.0
        self._fetches = 0
        self._failure: Exception | None = None
        self.refreshes = 0

    async def get(self, timeout: float) -> Secret:
        """A token valid for at least the refresh margin; ``timeout`` bounds a fetch.

        Callers that queued while a fetch failed share its error instead of each retrying
        in turn under the lock (a ``/gettoken`` outage must not serialise every caller).
        """
        if self._token is not None and self._clock() < self._valid_until:
            return self._token
        fetches = self._fetches
        async with self._lock:
            if self._token is not None and self._clock() < self._valid_until:
                return self._token
            if self._fetches != fetches and self._failure is not None:
                raise self._failure.with_traceback(None)
            self._fetches += 1
            try:
                fresh = await self._load(timeout)
            except Exception as exc:
                if isinstance(exc, DingNotifyError):
                    exc.token_fetch = True
                self._failure = exc
                raise
            self._failure = None
            return fresh

    async def invalidate(self, stale: Secret) -> None:
        """Forget ``stale`` (rejected by DingTalk) unless a racing caller already replaced it."""
        async with self._lock:
            if self._token == stale:
                self._token = None
                self._valid_until = 0.0
                # A shared store may already hold another process's fresh token: keep it.
                if await self._store.get(self._key) == stale.reveal():
                    await self._store.delete(self._key)

    async def _load(self, timeout: float) -> Secret:
        stored = await self._stored()
        if stored is not None:
            return stored
        if self._shared_lock is None:
            return await self._fetch_and_store(timeout)
        # Other processes share the store: one of them fetches, the rest read its token.
        return await single_flight(self._shared_lock, self._stored,
                                   lambda: self._fetch_and_store(timeout), clock=self._clock)

    async def _stored(self) -> Secret | None:
        stored = await self._store.get(self._key)
        if stored is None:
            return None
        # A shared store does not tell us the TTL left: trust it for one margin.
        self._token, self._valid_until = Secret(stored), self._clock() + self._margin
        return self._token

    async def _fetch_and_store(self, timeout: float) -> Secret:
        fetched, expires_in = await self._fetch(timeout)
        lifetime = expires_in if expires_in > 0 else TOKEN_FALLBACK_TTL
        ttl = max(lifetime - self._margin, lifetime / 2)
        self.refreshes += 1
        await self._store.set(self._key, fetched.reveal(), ttl)
        self._token, self._valid_until = fetched, self._clock() + ttl
        return fetched

    def __repr__(self) -> str:
        return f"TokenRefresher(key={self._key!r}, cached={self._token is not None})"
