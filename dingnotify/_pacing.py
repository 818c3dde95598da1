"""Client-side pacing: keep a broadcast under DingTalk's per-API QPS instead of drawing 90018."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from ._errors import RateLimitedError
from ._transport import RetryHook

T = TypeVar("T")

# DingTalk's documented per-app, per-API limit (errcode 90018): 40 calls per second.
DINGTALK_API_QPS = 40.0
# Spacing is measured between actual releases; this headroom absorbs network jitter so a
# server counting arrivals in one-second windows never sees one call too many.
HEADROOM = 0.99
MIN_RATE = 1.0
# One 90018 burst hits every call in flight; only the first answer of a window counts.
THROTTLE_WINDOW = 1.0
# 90018 means "not processed": safe to retry, so it has its own, larger budget.
RATE_LIMIT_RETRIES = 12


class AdaptivePacer:
    """Spaces calls at least ``1/rate`` apart; slows down when DingTalk says 90018.

    ``rate=None`` means no pacing until the first rate-limit answer, after which pacing
    starts a little under DingTalk's documented 40 QPS. Additive increase, multiplicative
    decrease: a rate-limit answer cuts the rate by a quarter (at most once a second, since a
    burst rejects every call in flight at once); each success wins back 1 % of the ceiling.
    """

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (requests per second)")
        self._ceiling = rate * HEADROOM if rate is not None else None
        self._rate = self._ceiling
        self._clock = clock
        self._next = 0.0
        self._last_throttle = -THROTTLE_WINDOW
        self._lock = anyio.Lock()

    @property
    def rate(self) -> float | None:
        """Current requests per second, or None while unpaced."""
        return self._rate

    async def acquire(self) -> None:
        """Wait for this caller's slot; callers are released one interval apart, in order."""
        if self._rate is None:
            return
        async with self._lock:
            now = self._clock()
            wait = self._next - now
            if wait > 0:
                await anyio.sleep(wait)
                now = self._clock()
            rate = self._rate if self._rate is not None else DINGTALK_API_QPS
            self._next = now + 1.0 / rate

    def throttled(self) -> None:
        """DingTalk answered 90018/90006: slow down, and let the current window drain."""
        now = self._clock()
        if now - self._last_throttle < THROTTLE_WINDOW:
            return
        self._last_throttle = now
        if self._rate is None:
            self._ceiling = DINGTALK_API_QPS * HEADROOM
            self._rate = self._ceiling * 0.9
        else:
            self._rate = max(MIN_RATE, self._rate * 0.75)
        self._next = max(self._next, now + THROTTLE_WINDOW)

    def succeeded(self) -> None:
        """A call went through: win back a little of the ceiling."""
        if self._rate is not None and self._ceiling is not None and self._rate < self._ceiling:
            self._rate = min(self._ceiling, self._rate + self._ceiling / 100)


async def call_paced(pacer: AdaptivePacer, call: Callable[[RetryHook], Awaitable[T]]) -> T:
    """``call(on_retry)`` under ``pacer``: each 90018, inside the transport's retries or out
    of them, slows the pacer; a call still rate-limited is tried again, within a budget."""

    def on_retry(number: int, exc: BaseException, wait: float) -> None:
        if isinstance(exc, RateLimitedError):
            pacer.throttled()

    throttles = 0
    while True:
        await pacer.acquire()
        try:
            result = await call(on_retry)
        except RateLimitedError:
            pacer.throttled()
            throttles += 1
            if throttles > RATE_LIMIT_RETRIES:
                raise
            continue
        pacer.succeeded()
        return result
