"""``RedisGovernor``: the quota windows of one app, shared by all its processes.

Each reservation is one Lua script (``_scripts.RESERVE``) on the server's clock: it trims
the windows, and either records the call or answers how long to wait. A bulk call sees
each budget reduced by ``Quota.interactive_reserve``; an interactive call sees all of it.

**The invariant.** A granted call's member stays in its windows from its grant until one
span after its answer reached this process: in flight it counts as *now* (``done()`` then
moves it to its completion time on the server's clock), and it expires only one TTL after
its grant if the process dies mid-call. DingTalk receives a call after its grant and before
its answer, so any set of calls that arrive within one window's length was counted, all of
them at once, by the script at the grant of the last of them: no jitter between release
and arrival can put more than a window's budget into one server-side window, and no
margin is needed. A completion that is late to reach Redis (it travels in a batch, after
the answer) only keeps its slot busy longer: it can delay a grant, never overcount one.

**Lost history.** An epoch key marks the shared windows' lifetime. A process remembers the
epoch it saw and what it was granted in the last minute (``_ledger``); when the epoch is
gone (Redis restarted without persistence, flushed, failed over, evicted), it puts its
calls back before it reserves again, opening a fresh epoch closed for a short grace so that
the other processes, which check the epoch every ``check_interval`` while they have recent
grants, put theirs back before anyone sends. A namespace's first use, and a process that
never saw an epoch, start at once: nothing better is knowable.

**Outage.** When Redis is unavailable the process paces itself with a local ``Governor``
on its share of each budget (``local_share``), seeded once per outage with the other
processes' part of the recipients window as this process last saw it.

Within a process, reservations overlap (no lock is held across a round trip), and a
waiting interactive call of an API keeps that API's bulk callers from asking until it
has its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anyio
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from .._coordination import Priority, Slot
from .._errors import DingNotifyError, RateLimitedError, RequestTimeoutError
from .._quota import (
    MINUTE_SPAN,
    SECOND_SPAN,
    Governor,
    Quota,
    Sleep,
    check_limit,
    penalty,
    second_window,
    span_of,
)
from ._clients import LoopClients
from ._health import Health, Unavailable, cancelling
from ._ledger import Entry, Ledger
from ._loopstate import Line, LoopState
from ._scripts import COMPLETE, PENALIZE, RESERVE, RESTORE

log = logging.getLogger("dingnotify.redis")
ALL_APIS = "*"
# No margin beyond the windows' own: completions make the invariant above exact.
SHARED_MARGIN = 0.0
# An in-flight call frees its slots this long after its grant if no completion comes (a
# process killed mid-call): three times the default request timeout.
INFLIGHT_TTL = 30.0
# How often a process with grants less than a minute old checks that the epoch it saw
# is still there, and how long a fresh epoch that replaced a lost one stays closed.
CHECK_INTERVAL = 0.5
# The longest delay a grant may carry: one round trip instead of a wait and a second ask
# (see ``_scripts.RESERVE``); less than any window's span, so no call in flight decides it.
HORIZON = 0.5
COMPLETION_BATCH = 500


def local_share(quota: Quota, processes: int) -> Quota:
    """The budget one of ``processes`` processes keeps while Redis is unavailable: 1/N of
    each (and at least one full send of recipients a minute)."""
    return replace(
        quota,
        qps=quota.qps / processes,
        calls_per_minute=max(1, quota.calls_per_minute // processes),
        recipients_per_minute=max(quota.userids_per_call,
                                  quota.recipients_per_minute // processes),
    )


_Answer = tuple[Entry, float] | float | None


class _Completion:
    """The slot of a call granted by Redis: ``done()`` frees it one window later."""

    __slots__ = ("_entry", "_governor")

    def __init__(self, governor: RedisGovernor, entry: Entry) -> None:
        self._governor = governor
        self._entry = entry

    def done(self) -> None:
        if self._entry.answered is None:
            self._governor._answered(self._entry)


class RedisGovernor:
    """Hands out call slots within a ``Quota`` summed over every process of an app (see
    the module docstring). ``minute_span``, ``inflight_ttl``, ``check_interval`` and
    ``grace`` exist for tests; the defaults are DingTalk's windows and ours."""

    def __init__(self, client: Redis | LoopClients, prefix: str, quota: Quota, health: Health,
                 *, processes: int, sleep: Sleep = anyio.sleep,
                 minute_span: float = MINUTE_SPAN, inflight_ttl: float = INFLIGHT_TTL,
                 check_interval: float = CHECK_INTERVAL, grace: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.quota = quota
        self.local = Governor(local_share(quota, processes))
        self._clients = client if isinstance(client, LoopClients) else LoopClients(client)
        self._prefix = prefix
        self._health = health
        self._sleep = sleep
        self._clock = clock
        first = self._clients.latest()
        self._reserve = first.register_script(RESERVE)
        self._penalize = first.register_script(PENALIZE)
        self._complete = first.register_script(COMPLETE)
        self._restore_script = first.register_script(RESTORE)
        per_second, span = second_window(quota.qps, SECOND_SPAN + SHARED_MARGIN)
        self._limits = (per_second, quota.calls_per_minute, quota.recipients_per_minute,
                        span, minute_span)
        self._gap = 0.5 * span / per_second
        self._own: dict[str, tuple[tuple[float, ...], float]] = {}
        self._processes = processes
        self._ttl = inflight_ttl
        self._check_interval = check_interval
        self._grace = (health.retry_interval + 2 * check_interval) if grace is None else grace
        self._longest = max(minute_span, span)
        self._member = f"{secrets.token_hex(6)}:"
        self._serial = itertools.count()
        self._ledger = Ledger(minute_span, inflight_ttl, clock=clock)
        self._epoch = ""
        self._seeded = -1  # the outage whose fallback was seeded
        self._state_of: LoopState | None = None
        self._clients.exit_hooks.append(self._drain)
        self.waited = 0.0

    def limit(self, api: str, calls: int, per_seconds: float) -> None:
        """Give ``api`` a budget of its own, summed over every process (see
        ``Governor.limit``); while Redis is unavailable, each keeps 1/``processes`` of it.

        The script's two windows both get the budget, and no spacing: a burst within the
        budget is fine."""
        check_limit(calls, per_seconds)
        span = span_of(per_seconds) + SHARED_MARGIN
        self._own[api] = ((calls, calls, self.quota.recipients_per_minute, span, span), 0.0)
        self.local.limit(api, max(1, calls // self._processes), per_seconds)

    def _keys(self, api: str) -> list[str]:
        p = self._prefix
        return [f"{p}s:{api}", f"{p}m:{api}", f"{p}r", f"{p}x:{api}", f"{p}x:{ALL_APIS}",
                f"{p}rt", f"{p}e", f"{p}g:{api}"]

    def _state(self) -> LoopState:
        loop = asyncio.get_running_loop()
        state = self._state_of
        if state is None or state.loop is not loop:
            state = self._state_of = LoopState(loop)
        return state

    async def acquire(self, api: str, recipients: int = 0, *,
                      priority: Priority = "interactive",
                      within: float | None = None) -> Slot:
        """Wait for a slot of ``api`` (and ``recipients`` of the per-minute budget), at
        ``priority``; ``within`` seconds at most (``RequestTimeoutError``, nothing sent)."""
        deadline = None if within is None else self._clock() + within
        state = self._state()
        if state.penalties:  # a rate-limit answer reaches Redis before our next slot
            await asyncio.gather(*state.penalties)
        line = state.lines.setdefault(api, Line())
        line.users += 1
        waiting = False
        try:
            while True:
                if priority == "bulk":
                    await self._bounded(line.clear(), deadline)
                # Only a person's call books ahead: a bulk grant booked ahead would hold
                # the window's room against the interactive calls of other processes.
                ahead = HORIZON if priority == "interactive" else 0.0
                horizon = ahead if deadline is None else min(ahead, deadline - self._clock())
                answer = await self._ask(state, api, recipients, priority, horizon)
                if answer is None:
                    return await self._fallback(api, recipients, priority, deadline)
                if isinstance(answer, tuple):
                    return await self._delayed(*answer)
                if deadline is not None and self._clock() + answer > deadline:
                    raise _too_late()
                if priority == "interactive" and not waiting:
                    line.interactive += 1
                    waiting = True
                pause = max(answer - horizon / 2, min(answer, 0.001))
                self.waited += pause
                await self._sleep(pause)
        finally:
            if waiting:
                line.leave()
            line.users -= 1
            if not line.users:
                state.lines.pop(api, None)

    async def _delayed(self, entry: Entry, delay: float) -> Slot:
        """The slot of a grant that goes out after ``delay`` seconds (a cancelled caller
        never sends: its slot is done at once)."""
        slot = _Completion(self, entry)
        if delay > 0:
            self.waited += delay
            try:
                await self._sleep(delay)
            except BaseException:
                slot.done()
                raise
        return slot

    async def _bounded(self, waiting: Any, deadline: float | None) -> None:
        if deadline is None:
            await waiting
            return
        try:
            await asyncio.wait_for(waiting, max(0.0, deadline - self._clock()))
        except TimeoutError:
            raise _too_late() from None

    async def _ask(self, state: LoopState, api: str, recipients: int, priority: Priority,
                   horizon: float) -> _Answer:
        if priority == "interactive":
            return await self._reserved(api, recipients, priority, horizon)
        async with state.asking:
            return await self._reserved(api, recipients, priority, horizon)

    async def reserve(self, api: str, recipients: int = 0,
                      priority: Priority = "interactive") -> float | None:
        """Ask Redis once: 0 (granted, and counted as answered at once), seconds to wait,
        or ``None`` when Redis is unavailable."""
        answer = await self._reserved(api, recipients, priority, 0.0)
        if isinstance(answer, tuple):
            self._answered(answer[0])
            return 0.0
        return answer

    async def _reserved(self, api: str, recipients: int, priority: Priority,
                        horizon: float) -> _Answer:
        """One reservation: the granted call (in flight) and the seconds before it may go
        out, seconds to wait before asking again, or None when Redis is unavailable."""
        limits, gap = self._own.get(api, (self._limits, self._gap))
        if priority == "interactive":  # spacing smooths bulk; a person does not queue on it
            gap = 0.0
        allowed = [self.quota.allowed(int(limit), priority) for limit in limits[:3]]
        member = f"{self._member}{next(self._serial)}"
        keys = self._keys(api)
        for _ in range(3):
            args = [*allowed, *limits[3:], recipients, member, gap, self._ttl, self._epoch,
                    secrets.token_hex(8), max(0.0, horizon)]
            try:
                code, total, epoch, delay = await self._run(self._reserve, keys, args)
                if int(code) >= 0:
                    break
                await self._put_back()
            except Unavailable:
                return None
        else:  # the windows keep vanishing: pace locally until they stay
            return None
        self._epoch = _text(epoch)
        if int(code) > 0:
            self._ledger.saw(int(total))
            return int(code) / 1e6
        entry = self._ledger.grant(member, api, recipients, int(total))
        self._watch()
        return entry, int(delay) / 1e6

    async def _fallback(self, api: str, recipients: int, priority: Priority,
                        deadline: float | None) -> Slot:
        """Pace locally; the first time in an outage, count what the others had sent."""
        if self._seeded != self._health.outages:
            self._seeded = self._health.outages
            others = self._ledger.others()
            if others is not None and others[0]:
                self.local.record(api, others[0], age=others[1])
        within = None if deadline is None else max(0.0, deadline - self._clock())
        return await self.local.acquire(api, recipients, priority=priority, within=within)

    def _answered(self, entry: Entry) -> None:
        """The call's answer arrived: count it locally, move it in Redis (batched)."""
        entry.answered = self._clock()
        self.local.record(entry.api, entry.weight)
        try:
            state = self._state()
        except RuntimeError:  # no running loop: its deadline frees it
            return
        state.completions.append(entry)
        if state.flusher is None or state.flusher.done():
            state.flusher = state.loop.create_task(self._flush(state))

    async def _flush(self, state: LoopState) -> None:
        """Send the queued completions, one script per batch (they may lag: see the
        invariant in the module docstring)."""
        while state.completions:
            await asyncio.sleep(0)  # gather the completions of this turn of the loop
            batch = state.completions[:COMPLETION_BATCH]
            del state.completions[:COMPLETION_BATCH]
            now = self._clock()
            keys: list[str] = []
            args: list[Any] = []
            for entry in batch:
                keys += self._keys(entry.api)[:3]
                args += [entry.member, entry.weight, f"{now - (entry.answered or now):.6f}"]
            try:
                await self._run(self._complete, keys, args)
            except BaseException as exc:
                if cancelling():  # the loop is closing: ``_drain`` sends them
                    state.completions[:0] = batch
                    raise asyncio.CancelledError from None
                if not isinstance(exc, Unavailable | DingNotifyError):
                    raise
                # else Redis is away: their TTL frees them

    async def _drain(self) -> None:
        """On the way out of an event loop: send the completions still queued."""
        state = self._state_of
        if state is None or state.loop is not asyncio.get_running_loop():
            return
        if state.flusher is not None and not state.flusher.done():
            await asyncio.wait([state.flusher])  # cancelled: it puts its batch back
        await self._flush(state)

    def _watch(self) -> None:
        state = self._state()
        if state.watcher is None or state.watcher.done():
            state.watcher = state.loop.create_task(self._check())

    async def _check(self) -> None:
        """While we have recent grants, notice a lost epoch even when idle."""
        while self._ledger.active():
            await anyio.sleep(self._check_interval)
            try:
                current = await self._health.run(
                    lambda: self._clients.current().get(f"{self._prefix}e"))
                if self._epoch and _text(current) != self._epoch:
                    await self._put_back()
            except (Unavailable, DingNotifyError):
                continue

    async def _put_back(self) -> None:
        """The epoch we saw is gone: put our calls of the last minute back (see the module
        docstring); raises ``Unavailable`` like any Redis call."""
        entries = list(self._ledger.recent())
        p = self._prefix
        keys = [f"{p}e", f"{p}x:{ALL_APIS}", f"{p}r", f"{p}rt"]
        args: list[Any] = [self._epoch, secrets.token_hex(8), self._grace, self._longest,
                           self._ttl]
        for entry in entries:
            keys += self._keys(entry.api)[:2]
            age = self._ledger.age(entry)
            args += [entry.member, entry.weight, "" if age is None else f"{age:.6f}"]
        epoch = await self._run(self._restore_script, keys, args)
        if _text(epoch) != self._epoch:
            log.warning("Redis lost the shared quota windows (restart, flush, failover or "
                        "eviction): this process put back its %d calls of the last minute",
                        len(entries))
        self._epoch = _text(epoch)

    def penalize(self, api: str, error: RateLimitedError) -> None:
        """DingTalk refused a call for its limits: close the API here at once, and for
        every process as soon as Redis has it (before this process's next slot)."""
        self.local.penalize(api, error)
        every_api, pause = penalty(error)
        key = self._keys(api)[4 if every_api else 3]
        state = self._state()
        task = state.loop.create_task(self._share(key, pause))
        state.penalties.add(task)
        task.add_done_callback(state.penalties.discard)

    @property
    def _pending(self) -> set[asyncio.Task[None]]:
        """Penalties on their way to Redis (tests wait for them)."""
        return set() if self._state_of is None else self._state_of.penalties

    async def _share(self, key: str, pause: float) -> None:
        with contextlib.suppress(Unavailable):  # the local governor has it already
            await self._run(self._penalize, [key], [pause])

    async def _run(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """One script on this loop's client, within the health's deadline."""
        return await self._health.run(
            lambda: script(keys=keys, args=args, client=self._clients.current()))

    async def aclose(self) -> None:
        """Stop this loop's background work (completions still queued are sent first)."""
        state = self._state_of
        if state is None or state.loop is not asyncio.get_running_loop():
            return
        if state.watcher is not None:
            state.watcher.cancel()
        tasks = [t for t in (state.watcher, state.flusher) if t is not None]
        await asyncio.gather(*tasks, *state.penalties, return_exceptions=True)

    def __repr__(self) -> str:
        return f"RedisGovernor({self.quota!r}, prefix={self._prefix!r})"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else "" if value is None else str(value)


def _too_late() -> RequestTimeoutError:
    return RequestTimeoutError("no call slot free within the call's deadline: nothing was "
                               "sent", maybe_sent=False)
