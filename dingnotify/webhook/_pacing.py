"""A sliding-window pacer: at most ``limit`` sends in any ``period`` seconds per robot.

DingTalk throttles a robot that gets more than 20 messages a minute, sometimes for
minutes, so callers wait their turn instead. Each caller *reserves* the earliest slot
under a thread lock and then sleeps until it, which keeps the order fair and lets
robots on different event loops (the logging handler's thread) share one window.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

LIMIT = 20
PERIOD = 60.0


class SlidingWindowLimiter:
    """At most ``limit`` acquisitions in any ``period`` seconds of ``clock``.

    ``clock`` and ``sleep`` are injectable so tests can compress a minute into nothing.
    """

    def __init__(self, limit: int = LIMIT, period: float = PERIOD, *,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self._slots: deque[float] = deque(maxlen=limit)
        self._blocked_until = float("-inf")
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Seconds until a slot would be free, without reserving it."""
        with self._lock:
            now = self.clock()
            return max(0.0, self._next_slot(now) - now)

    def reserve(self) -> float:
        """Take the earliest free slot and return how long to wait for it."""
        with self._lock:
            now = self.clock()
            slot = self._next_slot(now)
            self._slots.append(slot)
            return max(0.0, slot - now)

    async def acquire(self) -> float:
        """Wait for this caller's turn; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            await self.sleep(wait)
        return wait

    def block_for(self, seconds: float) -> None:
        """No slot before ``seconds`` from now: DingTalk said the window is full."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)

    def _next_slot(self, now: float) -> float:
        slot = max(now, self._blocked_until)
        if len(self._slots) == self.limit:
            slot = max(slot, self._slots[0] + self.period)
        return slot

    def __repr__(self) -> str:
        return f"SlidingWindowLimiter(limit={self.limit}, period={self.period})"


_shared: dict[str, SlidingWindowLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(key: str) -> SlidingWindowLimiter:
    """The process-wide window for the robot named by ``key`` (a digest, not the token)."""
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = _shared[key] = SlidingWindowLimiter()
        return limiter
