"""Per-app budgets beyond call rates: recipients per minute and calls per month.

Recipients: DingTalk documents 5,000 recipients receiving work notifications per minute per
app, and above it the send still answers success while the excess recipients get nothing.
``RecipientWindow`` counts delivered recipients in a sliding 60-second window on the
monotonic clock (like the call windows) and says how many more may be delivered now.

Calls per month: the standard edition has 5,000 calls a month (``/gettoken`` and the
contacts lookups exempt), then errcode 90020 until the next month. ``MonthlyQuota`` counts
accepted calls per app per GMT+8 calendar month of the emulator's injected wall clock, so a
test can cross a month with ``ManualClock``.
"""

from __future__ import annotations

import time
from collections import deque

from ._clock import Clock, month_key
from ._ratelimit import Monotonic

WINDOW_SECONDS = 60.0
MONTHLY_EXEMPT = frozenset({"/gettoken", "/user/get_by_mobile", "/topapi/v2/user/getbymobile"})


class RecipientWindow:
    """Delivered recipients per app in the last 60 s; ``limit=None`` means no limit."""

    def __init__(self, limit: int | None, monotonic: Monotonic = time.monotonic) -> None:
        self.limit = limit
        self._now = monotonic
        self._events: dict[str, deque[tuple[float, int]]] = {}
        self._sums: dict[str, int] = {}

    def available(self, app_key: str) -> int | None:
        """How many recipients may still be delivered now (None = unlimited)."""
        if self.limit is None:
            return None
        return max(0, self.limit - self._current(app_key))

    def add(self, app_key: str, delivered: int) -> None:
        if self.limit is None or delivered <= 0:
            return
        self._events.setdefault(app_key, deque()).append((self._now(), delivered))
        self._sums[app_key] = self._sums.get(app_key, 0) + delivered

    def _current(self, app_key: str) -> int:
        events = self._events.get(app_key)
        if not events:
            return 0
        horizon = self._now() - WINDOW_SECONDS
        total = self._sums[app_key]
        while events and events[0][0] <= horizon:
            total -= events.popleft()[1]
        self._sums[app_key] = total
        return total

    def reset(self) -> None:
        self._events.clear()
        self._sums.clear()


class MonthlyQuota:
    """Accepted calls per (app, GMT+8 month); ``limit=None`` means no quota."""

    def __init__(self, limit: int | None, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._used: dict[tuple[str, int], int] = {}

    def allows(self, app_key: str) -> bool:
        return self.limit is None or self.used(app_key) < self.limit

    def consume(self, app_key: str) -> None:
        if self.limit is not None:
            key = (app_key, month_key(self._clock()))
            self._used[key] = self._used.get(key, 0) + 1

    def used(self, app_key: str) -> int:
        """Calls counted for ``app_key`` in the current month."""
        return self._used.get((app_key, month_key(self._clock())), 0)

    def reset(self) -> None:
        self._used.clear()
