"""The robots' default budget: thread-locked sliding windows behind the governor interface.

DingTalk throttles a robot that gets more than 20 messages a minute, sometimes for
minutes, so callers wait their turn instead. Each caller *reserves* the earliest slot
under a thread lock and then sleeps until it, which keeps the order fair and lets
robots on different event loops (the logging handler's thread) share one window; the
quota ``Governor`` cannot, its locks belong to one event loop. ``SHARED`` holds the
process-wide window of every robot URL.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable

from .._api.webhook import BUDGET_PREFIX
from .._coordination import GRANTED, Priority, Slot
from .._errors import RateLimitedError
from .._quota import Quota, check_limit, penalty

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


class WindowGovernor:
    """A ``SlidingWindowLimiter`` per API, safe to share between threads and event loops.

    ``limit(api, calls, per_seconds)`` creates the API's window (a window already there
    stays: robots on one URL share it). Given ``limiter``, every API draws on that one
    window instead (tests, and the deprecated ``WebhookRobot(limiter=...)``).
    """

    def __init__(self, limiter: SlidingWindowLimiter | None = None) -> None:
        self._only = limiter
        self._windows: dict[str, SlidingWindowLimiter] = {}
        self._lock = threading.Lock()

    @property
    def quota(self) -> Quota:
        """Unused: a robot's budget is its window, not an app's quota."""
        return _NO_QUOTA

    def limit(self, api: str, calls: int, per_seconds: float) -> None:
        check_limit(calls, per_seconds)
        if self._only is None:
            with self._lock:
                if api not in self._windows:
                    self._windows[api] = SlidingWindowLimiter(calls, per_seconds)

    def window(self, api: str) -> SlidingWindowLimiter:
        """The window ``api`` draws on (one of 20 a minute if never limited)."""
        if self._only is not None:
            return self._only
        with self._lock:
            found = self._windows.get(api)
            if found is None:
                found = self._windows[api] = SlidingWindowLimiter()
            return found

    async def acquire(self, api: str, recipients: int = 0, *,
                      priority: Priority = "interactive",
                      within: float | None = None) -> Slot:
        await self.window(api).acquire()
        return GRANTED

    def penalize(self, api: str, error: RateLimitedError) -> None:
        """DingTalk throttled the robot anyway: no slot for as long as the answer implies."""
        self.window(api).block_for(penalty(error)[1])

    def __repr__(self) -> str:
        return f"WindowGovernor(windows={len(self._windows)})"


_NO_QUOTA = Quota()
SHARED = WindowGovernor()
"""Every robot's window in this process, whatever thread or event loop it sends from."""


def shared_limiter(key: str) -> SlidingWindowLimiter:
    """The process-wide window for the robot named by ``key`` (a digest, not the token)."""
    return SHARED.window(f"{BUDGET_PREFIX}{key}")
