"""DingTalk's documented call quotas, and the governor that keeps one client under them.

Every call of a client takes its slot from one ``Governor`` before it is sent: a web
request's ``send``, each batch of a broadcast, the polls of ``wait``, a recall. Windows
slide (no more than ``qps`` calls in any one-second span, or ``calls_per_minute`` in any
60-second span, per API), so the client is safe whether DingTalk counts in sliding or in
calendar windows; within a second, calls beyond a small burst (a tenth of ``qps``) are
spaced evenly rather than released all at once. ``asyncsend_v2`` also draws recipients
from a per-app ``recipients_per_minute`` budget: above it DingTalk still answers success
but delivers nothing, so this budget is the one that must never slip.

**The invariant.** A slot counts in its windows from the moment it is granted, while its
call is in flight, and until one window after ``slot.done()`` (its answer arrived, or it
was certainly never sent). A call is granted only if the calls so counted, itself
included, fit the window. Proof that no server window of span ``S`` ever sees more: a
call arrives at DingTalk between its release and its answer. Take any ``S``-span holding
arrivals of several calls and let ``c`` be the last of them released. Every other one,
``j``, was released before ``c`` and arrived at ``a_j``, no earlier than the span's start
``t``; ``c`` was released before its own arrival, so before ``t + S``. At ``c``'s
release ``j`` was either in flight, or answered at ``d_j >= a_j >= t > release(c) - S``:
counted either way. So the span's calls were all counted when ``c`` was granted, and they
fit. No jitter between release and arrival can break this, so the windows carry no
margin beyond ``CLOCK_MARGIN`` (a coarse clock's tick; an early timer).

**Priorities.** A call is ``"interactive"`` (a person waits for it) or ``"bulk"``. Bulk
calls may fill ``1 - Quota.interactive_reserve`` of every window, interactive ones all of
it; within one API a waiting interactive call is served before any waiting bulk call,
and callers of one priority in arrival order. No lock is held while waiting: the first
waiter of each priority sleeps until its slot is due (or until an answer frees one), the
others until the one ahead of them is served, so a caller that waits for the recipients
budget holds up neither another API nor the other priority.

Head-counts of departments and of ``to_all_user`` are unknown to the client. The rule:
a department reserves ``recipients_per_dept`` recipients (an estimate you can raise), and
``to_all_user`` reserves the whole minute's budget. What slips through anyway shows up
as ``SendResult.throttled_userids``, which a second broadcast re-sends.

An API whose budget is not the app's (a group robot's 20 messages a minute) gets one
window of its own from ``Governor.limit``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from ._constants import MAX_DEPT_IDS_PER_CALL, MAX_USERIDS_PER_CALL
from ._coordination import Priority, Slot
from ._errors import IPBannedError, RateLimitedError, RequestTimeoutError, ValidationError
from ._windows import TOLERANCE, Sleep, Spacer, Waiter, Window

Clock = Callable[[], float]
__all__ = ["MINUTE_SPAN", "SECOND_SPAN", "Governor", "Quota", "RateCap", "Sleep",
           "check_limit", "penalty", "second_window", "span_of"]

# Documented ceilings of one asyncsend_v2 call (today's documentation and the official SDK).
MAX_USERIDS_LIMIT = 5000
MAX_DEPT_IDS_LIMIT = 500
# Windows count from answers (module docstring), so no jitter needs a margin; this one
# covers a coarse monotonic clock's tick and a timer that fires a little early.
CLOCK_MARGIN = 0.002
SECOND_SPAN = 1 + CLOCK_MARGIN
MINUTE_SPAN = 60 + CLOCK_MARGIN
# Up to a tenth of the per-second budget goes out at once; beyond that, calls are spaced.
BURST_DIVISOR = 10
# Below one call a minute no window of ours makes sense.
MIN_QPS = 1 / 60
# Bulk work keeps at least half of every budget.
MAX_RESERVE = 0.5
# Past this many APIs remembered, the governor forgets the idle ones.
SWEEP_AT = 256


def span_of(seconds: float) -> float:
    """A window of ``seconds`` widened by the same margin as the built-in windows."""
    return seconds + CLOCK_MARGIN


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


class _Api:
    """The windows, spacing, penalties and waiters of one API."""

    __slots__ = ("closed_until", "queues", "spacer", "windows")

    def __init__(self, windows: tuple[Window, ...], spacer: Spacer | None) -> None:
        self.windows = windows
        self.spacer = spacer
        self.closed_until = 0.0
        self.queues: tuple[deque[Waiter], deque[Waiter]] | None = None
        """(interactive, bulk) waiters, created on the first wait."""

    @classmethod
    def of(cls, quota: Quota) -> _Api:
        """The quota's per-second (spaced) and per-minute windows."""
        limit, span = second_window(quota.qps, SECOND_SPAN)
        return cls((_window(quota, span, limit), _window(quota, MINUTE_SPAN,
                                                         quota.calls_per_minute)),
                   Spacer(span / limit, max(1, limit // BURST_DIVISOR)))

    @classmethod
    def own(cls, quota: Quota, calls: int, per_seconds: float) -> _Api:
        """One window of its own (``Governor.limit``), unspaced: a burst within it is fine."""
        return cls((_window(quota, span_of(per_seconds), calls),), None)

    def waiting(self, bulk: bool) -> bool:
        """Whether a caller at this priority must queue: someone of it is waiting already,
        or (for bulk) an interactive caller is."""
        queues = self.queues
        return queues is not None and bool(queues[bulk] or (bulk and queues[0]))

    def heads(self) -> list[Waiter]:
        """The waiters that may be served next: the first of each priority, bulk's only
        when no interactive caller waits."""
        queues = self.queues
        if queues is None:
            return []
        return [queues[0][0]] if queues[0] else [queues[1][0]] if queues[1] else []

    def idle(self, now: float) -> bool:
        return (not self.queues or not (self.queues[0] or self.queues[1])) and \
            self.closed_until <= now and all(w.idle(now) for w in self.windows)


def _window(quota: Quota, span: float, limit: int) -> Window:
    return Window(span, (limit, quota.allowed(limit, "bulk")))


class _Slot:
    """A granted slot: ``done()`` moves its call from in flight to answered, once."""

    __slots__ = ("_governor", "_recipients", "_state")

    def __init__(self, governor: Governor, state: _Api, recipients: int) -> None:
        self._governor = governor
        self._state: _Api | None = state
        self._recipients = recipients

    def done(self) -> None:
        state = self._state
        if state is not None:
            self._state = None
            self._governor._finish(state, self._recipients)


class Governor:
    """Hands out call slots within a ``Quota``; one per client, shared by every call."""

    def __init__(
        self, quota: Quota, *, clock: Clock = time.monotonic, sleep: Sleep = anyio.sleep
    ) -> None:
        self.quota = quota
        self._clock = clock
        self._sleep = sleep
        self._apis: dict[str, _Api] = {}
        self._sweep_at = SWEEP_AT
        self.limits: dict[str, tuple[int, float]] = {}
        """APIs given a budget of their own by ``limit``: (calls, seconds)."""
        self._recipients = _window(quota, MINUTE_SPAN, quota.recipients_per_minute)
        self._waiting: set[_Api] = set()
        self._all_closed_until = 0.0
        self.waited = 0.0

    def _api(self, api: str) -> _Api:
        state = self._apis.get(api)
        if state is None:
            if len(self._apis) >= self._sweep_at:
                self._sweep()
            own = self.limits.get(api)
            state = self._apis[api] = (_Api.of(self.quota) if own is None
                                       else _Api.own(self.quota, *own))
        return state

    def _sweep(self) -> None:
        """Forget the APIs with nothing to remember (no call within a window, no waiter, no
        closure): a client calling many paths keeps only the recent ones."""
        now = self._clock()
        self._apis = {api: state for api, state in self._apis.items() if not state.idle(now)}
        self._sweep_at = max(SWEEP_AT, 2 * len(self._apis))

    def limit(self, api: str, calls: int, per_seconds: float) -> None:
        """Give ``api`` a budget of its own instead of the quota's: at most ``calls`` in
        any ``per_seconds``. A group robot's 20 messages a minute is one: the budget of
        that robot, whatever else the governor paces."""
        check_limit(calls, per_seconds)
        if self.limits.get(api) != (calls, per_seconds):
            self.limits[api] = (calls, per_seconds)
            self._apis.pop(api, None)

    async def acquire(self, api: str, recipients: int = 0, *,
                      priority: Priority = "interactive",
                      within: float | None = None) -> Slot:
        """Wait for a slot of ``api`` (and ``recipients`` of the per-minute budget), at
        ``priority``; ``RequestTimeoutError`` at once when it cannot be had ``within``
        seconds. Mark the slot ``done()`` when the call's answer arrives."""
        state = self._api(api)
        bulk = priority == "bulk"
        if not state.waiting(bulk) and self._wait(state, recipients, bulk) <= TOLERANCE:
            return self._grant(state, recipients)
        return await self._queue(state, recipients, bulk, within)

    async def _queue(self, state: _Api, recipients: int, bulk: bool,
                     within: float | None) -> Slot:
        if state.queues is None:
            state.queues = (deque(), deque())
        queue, waiter = state.queues[bulk], Waiter(recipients)
        queue.append(waiter)
        self._waiting.add(state)
        started = self._clock()
        deadline = math.inf if within is None else started + within
        try:
            while True:
                wait = math.inf
                if waiter in state.heads():
                    wait = self._wait(state, recipients, bulk)
                    if wait <= TOLERANCE:
                        return self._grant(state, recipients)
                    if self._wait(state, recipients, bulk, hope=True) > deadline - \
                            self._clock():
                        raise _no_slot(within)
                waiter.until_answer = wait == math.inf
                left = deadline - self._clock()
                if left <= TOLERANCE:
                    raise _no_slot(within)
                await waiter.park(self._sleep, min(wait, left))
        finally:
            queue.remove(waiter)
            if not (state.queues[0] or state.queues[1]):
                self._waiting.discard(state)
            self.waited += self._clock() - started
            for head in state.heads():
                head.wake()

    def _wait(self, state: _Api, recipients: int, bulk: bool, *, hope: bool = False) -> float:
        now = self._clock()
        wait = max(self._all_closed_until, state.closed_until) - now
        for window in state.windows:
            wait = max(wait, window.wait_for(now, 1, bulk, hope=hope))
        if state.spacer is not None:
            wait = max(wait, state.spacer.wait_for(now))
        if recipients:
            wait = max(wait, self._recipients.wait_for(now, recipients, bulk, hope=hope))
        return wait

    def _grant(self, state: _Api, recipients: int) -> Slot:
        if state.spacer is not None:
            state.spacer.take(self._clock())
        for window in state.windows:
            window.start(1)
        if recipients:
            self._recipients.start(recipients)
        return _Slot(self, state, recipients)

    def _finish(self, state: _Api, recipients: int) -> None:
        """A slot's call was answered: its windows free one window from now, which those
        waiting for calls in flight can now compute."""
        now = self._clock()
        for window in state.windows:
            window.finish(now, 1)
        if recipients:
            self._recipients.finish(now, recipients)
        for waiting in (self._waiting if recipients else (state,) if state.queues else ()):
            for head in waiting.heads():
                if head.until_answer:
                    head.wake()

    def record(self, api: str, recipients: int = 0, *, age: float = 0.0) -> None:
        """Count a call answered ``age`` seconds ago, without waiting: one granted by a
        shared governor (so a fallback to this one knows what its process has just sent),
        or one a resumed journal acknowledged before the restart."""
        if not 0 <= age < math.inf:
            raise ValidationError(f"age must be a finite number of seconds >= 0, got {age!r}")
        state = self._api(api)
        now = self._clock()
        if state.spacer is not None:
            state.spacer.take(now, age)
        for window in state.windows:
            window.add(now - age, 1)
        if recipients:
            self._recipients.add(now - age, recipients)

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


def _no_slot(within: float | None) -> RequestTimeoutError:
    """The slot would come too late: nothing was sent, and retrying cannot help (the
    bound is what is left of the call's deadline)."""
    error = RequestTimeoutError(f"no call slot within {within}s", maybe_sent=False)
    error.retryable = False
    return error


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
