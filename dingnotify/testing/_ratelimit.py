"""DingTalk's documented limits as one frozen value, and the per-app, per-API call windows.

``RateLimits`` gathers every limit the emulator models: calls per second (90018) and per
minute (90006) per app and API, recipients per minute per app (silent non-delivery), calls
per month (90020), the per-call list caps of ``asyncsend_v2`` and the per-IP ban. The
edition profiles follow today's documentation: qps 20 / 40 / 60 for standard / professional
/ exclusive, 1,500 calls per minute, 5,000 recipients per minute, 5,000 calls a month on
standard only, 10,000 calls per IP per 20 s -> 5-minute ban. ``"realistic"`` is kept as the
old name of ``"professional"``.

Sliding windows, not fixed buckets: a client that paces at exactly the limit never trips
them, while any ``qps + 1`` calls inside one second do. Rejected calls are not counted, so a
burst of ``qps + 1`` draws exactly one rejection. Windows run on a monotonic clock
independent of the emulator's injected (possibly manual) wall clock.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["qps", "per_minute"] | None
PER_SECOND: Verdict = "qps"
PER_MINUTE: Verdict = "per_minute"
Monotonic = Callable[[], float]

SEED_USERIDS_PER_CALL = 100
SEED_DEPT_IDS_PER_CALL = 20
MAX_USERIDS_PER_CALL = 5000
"""The most a caller may configure: the official SDK's check and today's documentation."""
MAX_DEPT_IDS_PER_CALL = 500


_EDITION = {"per_minute": 1500, "recipients_per_minute": 5000, "ip_calls_per_window": 10_000}
"""What every edition shares; only qps (and standard's monthly quota) differ."""


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Every limit the emulator enforces; ``None`` switches that limit off.

    ``userids_per_call``/``dept_ids_per_call`` default to the seed's 100/20 and may be raised
    to 5,000/500. The per-IP ban is on when ``ip_calls_per_window`` is set: more calls from
    one address inside ``ip_window`` seconds ban it for ``ip_ban_seconds``.
    """

    qps: float | None = None
    per_minute: int | None = None
    recipients_per_minute: int | None = None
    monthly_calls: int | None = None
    userids_per_call: int = SEED_USERIDS_PER_CALL
    dept_ids_per_call: int = SEED_DEPT_IDS_PER_CALL
    ip_calls_per_window: int | None = None
    ip_window: float = 20.0
    ip_ban_seconds: float = 300.0

    def __post_init__(self) -> None:
        for name in ("qps", "per_minute", "recipients_per_minute", "monthly_calls",
                     "ip_calls_per_window", "ip_window", "ip_ban_seconds"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"RateLimits.{name} must be a positive number, got {value!r}")
        if not 1 <= self.userids_per_call <= MAX_USERIDS_PER_CALL:
            raise ValueError(f"userids_per_call must be 1..{MAX_USERIDS_PER_CALL}")
        if not 1 <= self.dept_ids_per_call <= MAX_DEPT_IDS_PER_CALL:
            raise ValueError(f"dept_ids_per_call must be 1..{MAX_DEPT_IDS_PER_CALL}")

    @classmethod
    def standard(cls) -> RateLimits:
        return cls(qps=20, monthly_calls=5000, **_EDITION)

    @classmethod
    def professional(cls) -> RateLimits:
        return cls(qps=40, **_EDITION)

    @classmethod
    def exclusive(cls) -> RateLimits:
        return cls(qps=60, **_EDITION)

    @classmethod
    def realistic(cls) -> RateLimits:
        """The old name of ``professional()``."""
        return cls.professional()

    @classmethod
    def unlimited(cls) -> RateLimits:
        return cls()

    @property
    def active(self) -> bool:
        return self.qps is not None or self.per_minute is not None


ProfileName = Literal["standard", "professional", "exclusive", "realistic", "unlimited"]
Profile = ProfileName | RateLimits
PROFILES: dict[str, Callable[[], RateLimits]] = {
    "standard": RateLimits.standard,
    "professional": RateLimits.professional,
    "exclusive": RateLimits.exclusive,
    "realistic": RateLimits.realistic,
    "unlimited": RateLimits.unlimited,
}


def resolve_profile(profile: Profile | str) -> RateLimits:
    if isinstance(profile, RateLimits):
        return profile
    factory = PROFILES.get(profile)
    if factory is None:
        raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)} "
                         f"or a RateLimits")
    return factory()


class RateLimiter:
    """Remembers accepted call times per key and answers whether one more is allowed."""

    def __init__(self, limits: RateLimits, monotonic: Monotonic = time.monotonic):
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
