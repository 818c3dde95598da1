"""The one HTTP layer: pooled aiohttp session, single attempts, and the retry loop.

Both ``DingTalkClient`` and ``TopClient`` send through a ``Transport``; it turns every
aiohttp failure into a ``TransportError`` whose message holds a redacted URL only.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp

from ._constants import (
    DEFAULT_DNS_CACHE_TTL,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
)
from ._errors import (
    ConnectionFailedError,
    HTTPStatusError,
    RequestTimeoutError,
    ResponseDecodeError,
    TransportError,
)
from ._redact import redact
from ._retry import RetryPolicy

T = TypeVar("T")
logger = logging.getLogger("dingnotify")

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
RetryHook = Callable[[int, BaseException, float], None]


class Transport:
    """Owns (or borrows) one ``aiohttp.ClientSession`` and sends requests through it."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT,
        dns_cache_ttl: int = DEFAULT_DNS_CACHE_TTL,
        ssl: bool | ssl_module.SSLContext = True,
        retry: RetryPolicy | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self.timeout = timeout
        self._client_timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_connections = max_connections
        self._keepalive_timeout = keepalive_timeout
        self._dns_cache_ttl = dns_cache_ttl
        self._ssl = ssl
        self.retry = retry if retry is not None else RetryPolicy()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled session, created on first use (it needs a running loop)."""
        if self._closed:
            raise RuntimeError("the client is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_timeout,
                ttl_dns_cache=self._dns_cache_ttl,
                use_dns_cache=True,
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(connector=connector, raise_for_status=False)
        return self._session

    async def aclose(self) -> None:
        """Close the session if this transport created it; idempotent."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    async def request(
        self,
        method: str,
        url: str,
        *,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """One attempt; returns the body of an HTTP 200 answer or raises ``TransportError``."""
        client_timeout = (
            self._client_timeout if timeout is None else aiohttp.ClientTimeout(total=timeout)
        )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", method, redact(url))
        try:
            async with self.session.request(
                method, url, data=data, headers=headers, timeout=client_timeout
            ) as resp:
                if resp.status != 200:
                    raise _status_error(resp, url)
                return await _read_capped(resp, url)
        except TransportError:
            raise
        except TimeoutError:
            raise RequestTimeoutError(
                f"{method} {redact(url)} timed out after {client_timeout.total}s"
            ) from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise ConnectionFailedError(
                f"{method} {redact(url)} failed: {type(exc).__name__}"
            ) from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"{method} {redact(url)} failed: {type(exc).__name__}") from None

    async def retrying(
        self,
        attempt: Callable[[float | None], Awaitable[T]],
        *,
        retry: RetryPolicy | None = None,
        on_retry: RetryHook | None = None,
        timeout: float | None = None,
    ) -> T:
        """Run ``attempt(timeout)`` until it succeeds or ``retry`` says stop.

        ``attempt`` receives the per-attempt timeout to use (``timeout``, or None for the
        session default), shortened so that no attempt outlives the policy's deadline.
        """
        policy = retry if retry is not None else self.retry
        per_attempt = timeout if timeout is not None else self.timeout
        started = time.monotonic()
        number = 1
        while True:
            remaining = _remaining(policy, started)
            if remaining is not None:
                limit: float | None = min(remaining, per_attempt)
            else:
                limit = timeout
            try:
                return await attempt(limit)
            except Exception as exc:
                if not policy.should_retry(exc, number):
                    raise
                wait = policy.delay(number, exc)
                remaining = _remaining(policy, started)
                if remaining is not None and wait >= remaining:
                    raise
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("retry %d after %.2fs: %s", number, wait, exc)
                if on_retry is not None:
                    on_retry(number, exc, wait)
                await asyncio.sleep(wait)
                number += 1


class TransportOwner:
    """Lifecycle shared by the clients: ``async with`` opens the pool, exit closes it."""

    _transport: Transport

    async def aclose(self) -> None:
        """Close the pooled session (an injected one is left open)."""
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        _ = self._transport.session
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _remaining(policy: RetryPolicy, started: float) -> float | None:
    if policy.deadline is None:
        return None
    left = policy.deadline - (time.monotonic() - started)
    if left <= 0:
        raise RequestTimeoutError(f"retry deadline of {policy.deadline}s exceeded")
    return left


def _status_error(resp: aiohttp.ClientResponse, url: str) -> HTTPStatusError:
    retry_after: float | None = None
    header = resp.headers.get("Retry-After")
    if header is not None:
        try:
            retry_after = max(0.0, float(header))
        except ValueError:
            retry_after = None
    return HTTPStatusError(
        resp.status,
        f"{resp.method} {redact(url)} answered HTTP {resp.status}",
        retry_after=retry_after,
    )


async def _read_capped(resp: aiohttp.ClientResponse, url: str) -> bytes:
    """Read the body, refusing one larger than any DingTalk answer could be."""
    length = resp.content_length
    if length is not None:
        if length > MAX_RESPONSE_BYTES:
            raise ResponseDecodeError(
                f"{resp.method} {redact(url)} body of {length} bytes is too large"
            )
        return await resp.read()  # the common case: aiohttp's own fast path
    body = await resp.content.read(MAX_RESPONSE_BYTES + 1)
    while len(body) <= MAX_RESPONSE_BYTES and not resp.content.at_eof():
        chunk = await resp.content.read(MAX_RESPONSE_BYTES + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > MAX_RESPONSE_BYTES:
        raise ResponseDecodeError(f"{resp.method} {redact(url)} body exceeds {MAX_RESPONSE_BYTES}")
    return body
