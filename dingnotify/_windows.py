"""The parts the quota governor is built from: completion-based windows, the spacer, and
a waiter that sleeps until its turn or until something it waits for changes.

Nothing here knows priorities or APIs; ``_quota.Governor`` combines them.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Awaitable, Callable

import anyio

Sleep = Callable[[float], Awaitable[None]]
# Waits shorter than this are rounding, not budget: a clock may not advance by them at all.
TOLERANCE = 1e-6


class Window:
    """Calls (or recipients) of the last ``span`` seconds, counted from their *answers*.

    A call counts from the moment its slot is granted: while it is in flight (a total,
    ``in_flight``), then until ``span`` seconds after its answer arrived (``done``, a deque
    ordered by answer time). ``limits`` is what each priority may fill.
    """

    __slots__ = ("_done", "_total", "in_flight", "limits", "span")

    def __init__(self, span: float, limits: tuple[int, int]) -> None:
        self.span = span
        self.limits = limits
        """(interactive, bulk): how much of the window each priority may fill."""
        self.in_flight = 0
        self._done: deque[tuple[float, int]] = deque()
        self._total = 0

    def _trim(self, now: float) -> None:
        done = self._done
        while done and done[0][0] <= now - self.span:
            self._total -= done.popleft()[1]

    def wait_for(self, now: float, weight: int, bulk: bool, *, hope: bool = False) -> float:
        """Seconds until ``weight`` more fits at one priority (0: now). ``math.inf`` when
        it takes calls still in flight to be answered first; with ``hope``, the least wait
        instead (every call in flight answered at once)."""
        self._trim(now)
        allowed = self.limits[bulk]
        excess = self.in_flight + self._total + min(weight, allowed) - allowed
        if excess <= 0:
            return 0.0
        for stamp, count in self._done:
            excess -= count
            if excess <= 0:
                return stamp + self.span - now
        return self.span if hope else math.inf

    def start(self, weight: int) -> None:
        self.in_flight += weight

    def finish(self, now: float, weight: int) -> None:
        """A call started here was answered at ``now``."""
        self.in_flight -= weight
        self.add(now, weight)

    def add(self, stamp: float, weight: int) -> None:
        """Count ``weight`` answered at ``stamp`` (in order, even when in the past)."""
        done = self._done
        if done and stamp < done[-1][0]:
            bisect.insort(done, (stamp, weight))
        else:
            done.append((stamp, weight))
        self._total += weight

    def idle(self, now: float) -> bool:
        """Nothing in flight nor answered within the window: forgetting it changes nothing."""
        self._trim(now)
        return not self.in_flight and not self._done


class Spacer:
    """A token bucket: bursts of up to ``burst`` calls, then one call per ``interval``.

    The windows alone would release a second's budget at once; spacing the calls keeps
    DingTalk's view of them smooth, and costs nothing at the budget's rate.
    """

    __slots__ = ("burst", "interval", "stamp", "tokens")

    def __init__(self, interval: float, burst: int) -> None:
        self.interval = interval
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = -math.inf

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) / self.interval)
            self.stamp = now

    def wait_for(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1 - TOLERANCE else (1 - self.tokens) * self.interval

    def take(self, now: float, age: float = 0.0) -> None:
        """Spend the token of a call made ``age`` seconds ago (refilled since then)."""
        self._refill(now)
        self.tokens -= max(0.0, 1 - age / self.interval)


class Waiter:
    """One caller waiting for a slot: it sleeps for a known wait, or until ``wake()``.

    ``wake`` cancels the sleep (a call was answered, the caller ahead was served), so
    the waiter looks again at once; no lock is held while it sleeps.
    """

    __slots__ = ("_scope", "_woken", "recipients", "until_answer")

    def __init__(self, recipients: int) -> None:
        self.recipients = recipients
        self.until_answer = False
        """Whether it waits for a call in flight to be answered (no timer can tell when)."""
        self._scope: anyio.CancelScope | None = None
        self._woken = False

    def wake(self) -> None:
        self._woken = True
        if self._scope is not None:
            self._scope.cancel()

    async def park(self, sleep: Sleep, seconds: float) -> None:
        """Sleep ``seconds`` (``math.inf``: until woken); return early when woken."""
        if not self._woken:
            with anyio.CancelScope() as scope:
                self._scope = scope
                if seconds == math.inf:
                    await anyio.sleep_forever()
                else:
                    await sleep(seconds)
            self._scope = None
        self._woken = False
