"""Time sources: an injectable wall clock, a manual clock for tests, and the GMT+8 day key.

DingTalk's daily and monthly limits reset at midnight China time, and token lifetimes are
measured in wall-clock seconds; all read the same injected clock so a test can jump across a
day or a month.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Returns epoch seconds."""

GMT8_OFFSET = 8 * 3600
DEFAULT_MANUAL_START = 1_795_312_800.0  # 2026-11-22 10:00:00 GMT+8


def day_key(epoch_seconds: float) -> int:
    """Index of the calendar day in GMT+8 (DingTalk's day boundary)."""
    return int((epoch_seconds + GMT8_OFFSET) // 86_400)


def month_key(epoch_seconds: float) -> int:
    """Index of the calendar month in GMT+8 (monthly quotas reset on the 1st, China time)."""
    moment = datetime.fromtimestamp(epoch_seconds + GMT8_OFFSET, tz=UTC)
    return moment.year * 12 + moment.month - 1


def system_clock() -> float:
    return time.time()


class ManualClock:
    """A clock that only moves when told to, so expiry and day rollover are deterministic."""

    def __init__(self, start: float = DEFAULT_MANUAL_START) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward ``seconds`` and return the new time."""
        self.now += seconds
        return self.now

    def set(self, epoch_seconds: float) -> None:
        self.now = float(epoch_seconds)

    def __repr__(self) -> str:
        return f"ManualClock({self.now!r})"
