"""DingTalk's documented call quotas, and the governor that keeps one client under them.

Every call of a client takes its slot from one ``Governor`` before it is sent: a web
request's ``send``, each batch of a broadcast, the polls of ``wait``, a recall. Windows
slide (no call ever sees more than ``qps`` calls in any one-second span, or
``calls_per_minute`` in any 60-second span, per API), so the client is safe whether
DingTalk counts in sliding or in calendar windows; within a second, calls beyond a small
burst (a tenth of ``qps``) are spaced evenly rather than released all at once.
``asyncsend_v2`` also draws recipients from a per-app ``recipients_per_minute`` budget:
above it DingTalk still answers success but delivers nothing, so this budget is the one
that must never slip.

Head-counts of departments and of ``to_all_user`` are unknown to the client. The rule:
a department reserves ``recipients_per_dept`` recipients (an estimate you can raise), and
``to_all_user`` reserves the whole minute's budget. What slips through anyway shows up
as ``SendResult.throttled_userids``, which a second broadcast re-sends.

An API whose budget is not the app's (a group robot's 20 messages a minute) gets one
window of its own from ``Governor.limit``, with the same margins.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from ._constants import MAX_DEPT_IDS_PER_CALL, MAX_USERIDS_PER_CALL
from ._coordination import GRANTED, Priority, Slot
from ._errors import IPBannedError, RateLimitedError, ValidationError

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Documented ceilings of one asyncsend_v2 call (today's documentation and the official SDK).
MAX_USERIDS_LIMIT = 5000
MAX_DEPT_IDS_LIMIT = 500
# Windows are measured between releases here and between arrivals at DingTalk; the margin
# absorbs the jitter in between (15 ms of a second, 300 ms of a minute). Calls are spaced
# (below), so it is the jitter between two calls a second apart that counts, not the
# time it takes to write a burst. Each margin is also what quota-bound work pays: 1.5 %.
SECOND_SPAN = 1.015
MINUTE_SPAN = 60.3
# Waits shorter than this are rounding, not budget: a clock may not advance by them at all.
TOLERANCE = 1e-6
# Up to a tenth of the per-second budget goes out at once; beyond that, calls are spaced.
BURST_DIVISOR = 10
# Below one call a minute no window of ours makes sense.
MIN_QPS = 1 / 60
# Bulk work keeps at least half of every budget.
MAX_RESERVE = 0.5


def span_of(seconds: float) -> float:
    """A window of ``seconds`` widened by the same margin as the built-in windows: 1.5 %
    of a second, 0.5 % of a minute or more (never less than 15 ms)."""
    return seconds + max(SECOND_SPAN - 1, seconds * (MINUTE_SPAN - 60) / 60)


def second_window(qps: float, span: float) -> tuple[int, float]:
    """(calls, seconds) of the per-second window; below one call a second the window
    widens instead: 0.5 qps is 1 call per 2 s."""
    return (math.floor(qps), span) if qps >= 1 else (1, span / qps)


def penalty(error: RateLimitedError) -> tuple[bool, float]:
    """(whether every API closes, for how long): what a rate-limit answer implies. An IP
    ban closes every API; other answers close their own, for the pause their family's
    error map gave them."""
    return isinstance(error, IPBannedError), error.pause


def _positive(name: str, value: float, *, integral: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"Quota.{name} must be a number, got {value!r}")
    if integral and not isinstance(value, int):
        raise ValidationError(f"Quota.{name} must be an int, got {value!r}")
    if not 0 < value < math.inf:
        raise ValidationError(f"Quota.{name} must be positive and finite, got {value!r}")


def check_limit(calls: int, per_seconds: float) -> None:
    """Refuse a budget no window could keep."""
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
        raise ValidationError(f"calls must be an int of at least 1, got {calls!r}")
    if isinstance(per_seconds, bool) or not isinstance(per_seconds, int | float) or not (
            0 < per_seconds < math.inf):
        raise ValidationError(f"per_seconds must be positive and finite, got {per_seconds!r}")


@dataclass(frozen=True, slots=True)
class Quota:
    """One app's budgets, per DingTalk API (``qps``, ``calls_per_minute``) and per app
    (``recipients_per_minute`` of work notifications), plus the size of one send.

    The defaults are the standard edition's; ``professional()`` and ``exclusive()`` raise
    ``qps`` to 40 and 60. ``userids_per_call``/``dept_ids_per_call`` default to the 100/20
    of the original API pages; DingTalk now documents up to 5,000/500 per call.

    ``interactive_reserve`` is the share of every budget (calls a second, calls a minute,
    recipients a minute) that bulk work leaves free for interactive calls, so a person
    never waits behind a broadcast. 0.1 keeps two calls a second of the standard edition
    free (one person-facing send every half second) at a cost of a tenth of a broadcast's
    speed; 0 turns the reserve off; more than half would make bulk the minority.
    """

    qps: float = 20
    calls_per_minute: int = 1500
    recipients_per_minute: int = 5000
    userids_per_call: int = MAX_USERIDS_PER_CALL
    dept_ids_per_call: int = MAX_DEPT_IDS_PER_CALL
    recipients_per_dept: int = 100
    interactive_reserve: float = 0.1

    def __post_init__(self) -> None:
        _positive("qps", self.qps, integral=False)
        if self.qps < MIN_QPS:
            raise ValidationError(f"Quota.qps must be at least one call a minute "
                                  f"({MIN_QPS:.4f}), got {self.qps!r}")
        reserve = self.interactive_reserve
        if isinstance(reserve, bool) or not isinstance(reserve, int | float) or not (
                0 <= reserve <= MAX_RESERVE):
            raise ValidationError(f"Quota.interactive_reserve must be a number in "
                                  f"[0, {MAX_RESERVE}], got {reserve!r}")
        for name in ("calls_per_minute", "recipients_per_minute", "userids_per_call",
                     "dept_ids_per_call", "recipients_per_dept"):
            _positive(name, getattr(self, name))
        if self.userids_per_call > MAX_USERIDS_LIMIT:
            raise ValidationError(f"Quota.userids_per_call is at most {MAX_USERIDS_LIMIT}")
        if self.dept_ids_per_call > MAX_DEPT_IDS_LIMIT:
            raise ValidationError(f"Quota.dept_ids_per_call is at most {MAX_DEPT_IDS_LIMIT}")
        if self.userids_per_call > self.recipients_per_minute:
            raise ValidationError("Quota.userids_per_call exceeds recipients_per_minute: "
                                  "such a batch could never be sent")

    @classmethod
    def standard(cls) -> Quota:
        """Standard edition: 20 calls per second per API."""
        return cls(qps=20)

    @classmethod
    def professional(cls) -> Quota:
        """Professional edition: 40 calls per second per API."""
        return cls(qps=40)

    @classmethod
    def exclusive(cls) -> Quota:
        """Exclusive edition: 60 calls per second per API."""
        return cls(qps=60)

    def allowed(self, limit: int, priority: Priority) -> int:
        """How much of a window of ``limit`` a call at ``priority`` may fill: all of it for
        interactive calls, ``1 - interactive_reserve`` of it (at least 1) for bulk."""
        if priority == "interactive" or not self.interactive_reserve:
            return limit
        return max(1, math.floor(limit * (1 - self.interactive_reserve) + TOLERANCE))

    def reservation(self, userids: int, dept_ids: int, to_all_user: bool) -> int:
        """Recipients one send draws from the per-minute budget (see the module docstring)."""
        if to_all_user:
            return self.recipients_per_minute
        return min(self.recipients_per_minute, userids + dept_ids * self.recipients_per_dept)


class _Window:
    """Weighted events of the last ``span`` seconds, at most ``limit`` in total."""

    __slots__ = ("_events", "_total", "limit", "span")

    def __init__(self, span: float, limit: int) -> None:
        self.span = span
        self.limit = limit
        self._events: deque[tuple[float, int]] = deque()
        self._total = 0

    def wait_for(self, now: float, weight: int) -> float:
        """Seconds until ``weight`` more fits (0: now)."""
        events = self._events
        while events and events[0][0] <= now - self.span:
            self._total -= events.popleft()[1]
        excess = self._total + weight - self.limit
        if excess <= 0:
            return 0.0
        freed = 0
        for stamp, count in events:
            freed += count
            if freed >= excess:
                return stamp + self.span - now
        return self.span  # weight alone exceeds the limit: refused by Quota's checks

    def add(self, stamp: float, weight: int) -> None:
        """Count ``weight`` at ``stamp`` (in order, even when ``stamp`` is in the past)."""
        events = self._events
        if events and stamp < events[-1][0]:
            bisect.insort(events, (stamp, weight))
        else:
            events.append((stamp, weight))
        self._total += weight


class _Spacer:
    """A token bucket: bursts of up to ``burst`` calls, then one call per ``interval``.

    The sliding window alone would release a second's budget at once; those calls then
    reach DingTalk spread over the time it takes to write and serve them, and the next
    second's burst can land inside the same server-side second. Spacing them keeps each
    call's arrival as far from its neighbours as the budget allows.
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


class _Api:
    """The windows, spacing and penalties of one API."""

    __slots__ = ("closed_until", "lock", "spacer", "windows")

    def __init__(self, windows: tuple[_Window, ...], spacer: _Spacer | None) -> None:
        self.windows = windows
        self.spacer = spacer
        self.closed_until = 0.0
        self.lock = anyio.Lock()

    @classmethod
    def of(cls, quota: Quota) -> _Api:
        """The quota's per-second (spaced) and per-minute windows."""
        limit, span = second_window(quota.qps, SECOND_SPAN)
        return cls((_Window(span, limit), _Window(MINUTE_SPAN, quota.calls_per_minute)),
                   _Spacer(span / limit, max(1, limit // BURST_DIVISOR)))

    @classmethod
    def own(cls, calls: int, per_seconds: float) -> _Api:
        """One window of its own (``Governor.limit``), unspaced: a burst within it is fine."""
        return cls((_Window(span_of(per_seconds), calls),), None)


class Governor:
    """Hands out call slots within a ``Quota``; one per client, shared by every call."""

    def __init__(
        self, quota: Quota, *, clock: Clock = time.monotonic, sleep: Sleep = anyio.sleep
    ) -> None:
        self.quota = quota
        self._clock = clock
        self._sleep = sleep
        self._apis: dict[str, _Api] = {}
        self.limits: dict[str, tuple[int, float]] = {}
        """APIs given a budget of their own by ``limit``: (calls, seconds)."""
        self._recipients = _Window(MINUTE_SPAN, quota.recipients_per_minute)
        self._all_closed_until = 0.0
        self.waited = 0.0

    def _api(self, api: str) -> _Api:
        state = self._apis.get(api)
        if state is None:
            own = self.limits.get(api)
            state = self._apis[api] = _Api.of(self.quota) if own is None else _Api.own(*own)
        return state

    def limit(self, api: str, calls: int, per_seconds: float) -> None:
        """Give ``api`` a budget of its own instead of the quota's: at most ``calls`` in
        any ``per_seconds`` (plus the usual margin). A group robot's 20 messages a minute
        is one: the budget of that robot, whatever else the governor paces."""
        check_limit(calls, per_seconds)
        if self.limits.get(api) != (calls, per_seconds):
            self.limits[api] = (calls, per_seconds)
            self._apis.pop(api, None)

    async def acquire(self, api: str, recipients: int = 0, *,
                      priority: Priority = "interactive",
                      within: float | None = None) -> Slot:
        """Wait for a slot of ``api`` (and ``recipients`` of the per-minute budget).

        Callers of one API are served in arrival order.
        """
        state = self._api(api)
        async with state.lock:
            while (wait := self._wait(state, recipients)) > TOLERANCE:
                self.waited += wait
                await self._sleep(wait)
            self.record(api, recipients)
        return GRANTED

    def record(self, api: str, recipients: int = 0, *, age: float = 0.0) -> None:
        """Count a call answered ``age`` seconds ago, without waiting: one granted by a
        shared governor (so a fallback to this one knows what its process has just sent),
        or one a resumed journal acknowledged before the restart."""
        if not 0 <= age < math.inf:
            raise ValidationError(f"age must be a finite number of seconds >= 0, got {age!r}")
        state = self._api(api)
        now = self._clock()
        stamp = now - age
        if state.spacer is not None:
            state.spacer.take(now, age)
        for window in state.windows:
            window.add(stamp, 1)
        if recipients:
            self._recipients.add(stamp, recipients)

    def _wait(self, state: _Api, recipients: int) -> float:
        now = self._clock()
        wait = max(self._all_closed_until, state.closed_until) - now
        for window in state.windows:
            wait = max(wait, window.wait_for(now, 1))
        if state.spacer is not None:
            wait = max(wait, state.spacer.wait_for(now))
        if recipients:
            wait = max(wait, self._recipients.wait_for(now, recipients))
        return wait

    def penalize(self, api: str, error: RateLimitedError) -> None:
        """DingTalk refused a call for its limits anyway (another process shares the app):
        close that API, or every API for a ban, for as long as the answer implies."""
        now = self._clock()
        every_api, pause = penalty(error)
        if every_api:
            self._all_closed_until = max(self._all_closed_until, now + pause)
            return
        state = self._api(api)
        state.closed_until = max(state.closed_until, now + pause)

    def __repr__(self) -> str:
        return f"Governor({self.quota!r}, apis={len(self._apis)})"


class RateCap:
    """An extra cap of ``rate`` calls per second for one broadcast (``broadcast(rate=)``)."""

    def __init__(self, rate: float, *, clock: Clock = time.monotonic) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not (
            0 < rate < math.inf
        ):
            raise ValidationError(f"rate must be a positive, finite number, got {rate!r}")
        self._interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0
        self._lock = anyio.Lock()

    async def acquire(self) -> None:
        """Release callers ``1/rate`` seconds apart, in order."""
        async with self._lock:
            wait = self._next - self._clock()
            if wait > 0:
                await anyio.sleep(wait)
            self._next = max(self._next, self._clock()) + self._interval
