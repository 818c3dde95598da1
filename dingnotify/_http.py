"""The client side of the transport: lifecycle, one event loop, status checks.

Both ``DingTalkClient`` and ``TopClient`` own one ``HttpCore``. It counts calls in flight
so that ``aclose`` can let them finish (within a grace period) before the pool goes, and
refuses a call from a second event loop at once instead of hanging on the first loop's
connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

import anyio

from ._constants import DEFAULT_CLOSE_GRACE
from ._errors import (
    ClientClosedError,
    ConnectionFailedError,
    DingNotifyError,
    RequestTimeoutError,
    TransportError,
)
from ._retry import RetryHook, RetryPolicy, retrying
from ._transport import AsyncTransport, Request, ResponseLike

T = TypeVar("T")
logger = logging.getLogger("dingnotify")


class HttpCore:
    """Sends requests through a transport for one client; see the module docstring."""

    def __init__(
        self,
        transport: AsyncTransport,
        *,
        timeout: float,
        retry: RetryPolicy,
        close_grace: float = DEFAULT_CLOSE_GRACE,
    ) -> None:
        if not 0 < timeout < float("inf"):
            raise ValueError("timeout must be a positive, finite number of seconds")
        if not 0 <= close_grace < float("inf"):
            raise ValueError("close_grace must be a finite number of seconds >= 0")
        self.transport = transport
        self.timeout = timeout
        self.retry = retry
        self.close_grace = close_grace
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._closed = False
        self._in_flight = 0
        self._idle: anyio.Event | None = None
        self._bracket = _CallBracket(self)

    def _enter(self) -> None:
        if self._closing:
            raise ClientClosedError("the client is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise DingNotifyError(
                "this client belongs to another event loop: create one client per loop"
            )

    def call(self) -> _CallBracket:
        """Brackets one API call (all of its attempts) so ``aclose`` can wait for it."""
        return self._bracket

    async def run(
        self,
        attempt: Callable[[float], Awaitable[T]],
        *,
        timeout: float | None,
        retry: RetryPolicy | None,
        on_retry: RetryHook | None = None,
        repeatable: bool = True,
    ) -> T:
        """One API call: ``attempt`` under the retry engine (this client's defaults unless
        given), inside the call bracket."""
        self._begin()
        try:
            return await retrying(attempt, retry if retry is not None else self.retry,
                                  timeout=timeout if timeout is not None else self.timeout,
                                  on_retry=on_retry, repeatable=repeatable)
        finally:
            self._end()

    def _begin(self) -> None:
        self._enter()
        self._in_flight += 1

    def _end(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0 and self._idle is not None:
            self._idle.set()

    async def exchange(self, request: Request) -> ResponseLike:
        """One attempt: any HTTP answer, else a typed ``TransportError``. At DEBUG, one
        record per exchange: method, redacted URL, status (or error) and latency."""
        if self._closed:
            raise ClientClosedError("the client was closed while this call was retrying")
        if not logger.isEnabledFor(logging.DEBUG):  # the hot path pays this check only
            return await self._attempt(request)
        started = time.perf_counter()
        try:
            response = await self._attempt(request)
        except TransportError as exc:
            logger.debug("%s %s -> %s after %.1f ms", request.method, request.safe_url,
                         type(exc).__name__, (time.perf_counter() - started) * 1000)
            raise
        logger.debug("%s %s -> %d in %.1f ms", request.method, request.safe_url,
                     response.status, (time.perf_counter() - started) * 1000)
        return response

    async def _attempt(self, request: Request) -> ResponseLike:
        failure: TransportError
        try:
            return await self.transport.handle(request)
        except TransportError as exc:
            failure = exc
        except TimeoutError:
            failure = RequestTimeoutError(f"{request.where} timed out after {request.timeout}s")
        except OSError as exc:
            failure = ConnectionFailedError(f"{request.where} failed: {type(exc).__name__}")
        raise failure  # outside any except block: nothing chained, nothing leaked

    async def aclose(self) -> None:
        """Refuse new calls, let those in flight finish for up to ``close_grace`` seconds,
        then close the transport. Idempotent."""
        self._closing = True
        if self._in_flight and self._loop is asyncio.get_running_loop():
            self._idle = anyio.Event()
            with anyio.move_on_after(self.close_grace):
                await self._idle.wait()
        self._closed = True
        await self.transport.aclose()


class _CallBracket:
    """``async with http.call():`` without a generator per call (it is on every request's
    path); it holds no per-call state, so one instance serves every call."""

    __slots__ = ("_http",)

    def __init__(self, http: HttpCore) -> None:
        self._http = http

    async def __aenter__(self) -> None:
        self._http._begin()

    async def __aexit__(self, *exc_info: object) -> None:
        self._http._end()


class ClientLifecycle:
    """``async with`` support shared by the clients."""

    _http: HttpCore

    async def aclose(self) -> None:
        """Let calls in flight finish (``close_grace`` seconds at most), then close the pool.

        Calls made afterwards raise ``ClientClosedError``; an injected session stays open.
        """
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        self._http._enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def retry_after(response: ResponseLike) -> float | None:
    """The ``Retry-After`` header in seconds, when it is a usable number."""
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None
