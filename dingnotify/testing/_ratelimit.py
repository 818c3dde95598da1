"""Per-app, per-API call limits with sliding windows (DingTalk's 40/s -> 90018, 1500/min -> 90006).

Sliding windows, not fixed buckets: a client that paces at exactly the limit never trips
them, while any 41 calls inside one second do. Rejected calls are not counted, so a burst
of ``qps + 1`` draws exactly one rejection. Windows run on a monotonic clock independent of
the emulator's injected (possibly manual) wall clock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["qps", "per_minute"] | None
PER_SECOND: Verdict = "qps"
PER_MINUTE: Verdict = "per_minute"


@dataclass(frozen=True, slots=True)
class RateLimits:
    """``qps`` calls per sliding second and ``per_minute`` per sliding minute; None = no cap."""

    qps: float | None = None
    per_minute: int | None = None

    @classmethod
    def realistic(cls) -> RateLimits:
        return cls(qps=40, per_minute=1500)

    @classmethod
    def unlimited(cls) -> RateLimits:
        return cls()

    @property
    def active(self) -> bool:
        return self.qps is not None or self.per_minute is not None


Profile = Literal["realistic", "unlimited"] | RateLimits


def resolve_profile(profile: Profile | str) -> RateLimits:
    if isinstance(profile, RateLimits):
        return profile
    if profile == "realistic":
        return RateLimits.realistic()
    if profile == "unlimited":
        return RateLimits.unlimited()
    raise ValueError(f"unknown profile {profile!r}; use 'realistic', 'unlimited' or RateLimits")


class RateLimiter:
    """Remembers accepted call times per key and answers whether one more is allowed."""

    def __init__(self, limits: RateLimits, monotonic: Callable[[], float] = time.monotonic):
        self.limits = limits
        self._now = monotonic
        self._second: dict[object, deque[float]] = {}
        self._minute: dict[object, deque[float]] = {}

    def check(self, key: object) -> Verdict:
        """Record the call if allowed; else return which window refused it."""
        limits = self.limits
        if not limits.active:
            return None
        now = self._now()
        second = minute = None
        if limits.qps is not None:
            second = self._window(self._second, key, now - 1.0)
            if len(second) >= limits.qps:
                return PER_SECOND
        if limits.per_minute is not None:
            minute = self._window(self._minute, key, now - 60.0)
            if len(minute) >= limits.per_minute:
                return PER_MINUTE
        if second is not None:
            second.append(now)
        if minute is not None:
            minute.append(now)
        return None

    @staticmethod
    def _window(store: dict[object, deque[float]], key: object, horizon: float) -> deque[float]:
        window = store.get(key)
        if window is None:
            window = store[key] = deque()
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def reset(self) -> None:
        self._second.clear()
        self._minute.clear()
