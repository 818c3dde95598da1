"""The governor's priorities, reserve, completion-based windows and bounded waits, on a
manual clock that moves only when a test advances it (so concurrent waiters can be
watched in between), and the order slot -> token -> request on a mock transport."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from dingnotify import (
    Governor,
    Quota,
    RequestTimeoutError,
    RetryPolicy,
    Text,
)
from dingnotify._coordination import Priority
from dingnotify.testing import MockRequest, MockResponse
from tests.conftest import GETTOKEN, SEND, Scripted, client_with, err, ok
from tests.unit.test_pacing import FakeTime, most_in_any_span

OTHER = "/topapi/message/corpconversation/getsendresult"


class ManualClock:
    """Time stands still until ``advance``; sleepers wake in order as it passes them."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        event = anyio.Event()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), event))
        await event.wait()

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        await anyio.wait_all_tasks_blocked()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, event = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            event.set()
            await anyio.wait_all_tasks_blocked()
        self.now = target
        await anyio.wait_all_tasks_blocked()


def manual(quota: Quota) -> tuple[Governor, ManualClock]:
    clock = ManualClock()
    return Governor(quota, clock=clock, sleep=clock.sleep), clock


def taker(gov: Governor, served: list[str]) -> Callable[..., Awaitable[None]]:
    """A caller that takes a slot, notes its name and is answered at once."""
    async def take(name: str, api: str = SEND, recipients: int = 0,
                   priority: Priority = "interactive", **kw: Any) -> None:
        slot = await gov.acquire(api, recipients, priority=priority, **kw)
        served.append(name)
        slot.done()
    return take


def manual_send(recipients_per_minute: int = 1000, **kw: Any) -> tuple[Governor, ManualClock]:
    """A governor whose per-second budget never holds a test up (100 calls a second)."""
    return manual(Quota(qps=100, recipients_per_minute=recipients_per_minute, **kw))


async def test_waiting_interactive_calls_are_served_before_waiting_bulk_calls() -> None:
    gov, clock = manual_send()
    gov.record(SEND, 1000)  # the minute's recipients, all spent
    served: list[str] = []
    take = taker(gov, served)
    async with anyio.create_task_group() as tg:
        for name in ("b1", "b2", "b3"):
            tg.start_soon(take, name, SEND, 100, "bulk")
            await anyio.wait_all_tasks_blocked()
        for name in ("i1", "i2"):
            tg.start_soon(take, name, SEND, 100)
            await anyio.wait_all_tasks_blocked()
        await clock.advance(30)
        assert served == []
        await clock.advance(31)
    assert served == ["i1", "i2", "b1", "b2", "b3"]  # arrival order within a priority


async def test_bulk_calls_never_fill_more_than_their_share_of_any_window() -> None:
    clock = FakeTime()
    gov = Governor(Quota(qps=60, calls_per_minute=1500), clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(1400):
        (await gov.acquire("a", priority="bulk")).done()
        stamps.append(clock.now)
    assert most_in_any_span(stamps, 1.0) == 54  # 60 a second, less the 10 % reserve
    assert most_in_any_span(stamps, 60.0) == 1350  # 1,500 a minute, less the reserve
    weights = [100] * 60
    stamps = []
    for weight in weights:
        (await gov.acquire(SEND, weight, priority="bulk")).done()
        stamps.append(clock.now)
    assert most_in_any_span(stamps, 60.0, weights) == 4500  # 5,000 recipients, less 500


async def test_interactive_calls_use_the_reserve_bulk_calls_leave() -> None:
    gov, clock = manual_send(interactive_reserve=0.2)
    gov.record(SEND, 800)  # bulk's share
    served: list[str] = []
    take = taker(gov, served)
    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "bulk", SEND, 100, "bulk")
        await anyio.wait_all_tasks_blocked()
        assert served == []  # bulk waits for its share
        await take("person", SEND, 100)
        await take("another", SEND, 100)  # the whole reserve, at once
        assert served == ["person", "another"] and clock.now == 1000.0
        await clock.advance(61)
    assert served[-1] == "bulk"


async def test_a_reserve_of_zero_lets_bulk_fill_every_window() -> None:
    clock = FakeTime()
    gov = Governor(Quota(qps=20, interactive_reserve=0), clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(100):
        (await gov.acquire("a", priority="bulk")).done()
        stamps.append(clock.now)
    assert most_in_any_span(stamps, 1.0) == 20


async def test_a_caller_waiting_for_recipients_holds_up_no_other_priority_or_api() -> None:
    gov, clock = manual_send()
    gov.record(SEND, 900)  # bulk's share
    served: list[str] = []
    take = taker(gov, served)
    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "bulk send", SEND, 100, "bulk")  # waits a minute
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(1):  # real time: none of these waits for the clock
            await take("person send", SEND, 1)
            await take("person result", OTHER)
            await take("bulk result", OTHER, 0, "bulk")
        assert served == ["person send", "person result", "bulk result"]
        assert clock.now == 1000.0
        await clock.advance(61)
    assert served[-1] == "bulk send"


async def test_a_slot_counts_until_one_window_after_its_answer() -> None:
    gov, clock = manual(Quota())
    gov.limit("robot", 2, 10.0)
    first = await gov.acquire("robot")
    second = await gov.acquire("robot")
    served: list[str] = []
    take = taker(gov, served)
    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "third", "robot")
        await clock.advance(30)
        assert served == []  # both calls still in flight: no window passes them
        first.done()
        first.done()  # idempotent: frees nothing more
        await clock.advance(10.0)
        assert served == []  # one window after the *answer*, not the release
        await clock.advance(0.01)
        assert served == ["third"]
    second.done()


async def test_a_slot_that_cannot_be_had_within_its_bound_raises_at_once() -> None:
    gov, clock = manual_send()
    gov.record(SEND, 1000)
    with anyio.fail_after(1), pytest.raises(RequestTimeoutError):
        await gov.acquire(SEND, 100, within=30)
    assert clock.now == 1000.0  # raised without waiting
    await gov.acquire("other", within=0)  # a slot there now: granted


async def test_a_waiter_behind_others_gives_up_at_its_bound() -> None:
    gov, clock = manual_send()
    gov.record(SEND, 1000)
    served: list[str] = []
    take = taker(gov, served)
    failed: list[float] = []

    async def bounded() -> None:
        try:
            await take("bounded", SEND, 100, within=61)
        except RequestTimeoutError:
            failed.append(clock.now)

    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "first", SEND, 1000)  # the whole minute, ahead of it
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(bounded)
        await clock.advance(30)
        assert served == [] and not failed  # behind "first", which may free it in time
        await clock.advance(30.5)
    # "first" spent the next minute too: "bounded" knew at once that 61 s would not do
    assert served == ["first"] and failed == [pytest.approx(1060.002)]


async def test_idle_apis_are_forgotten() -> None:
    """20,000 distinct paths (``client.call``), one call each, a tenth of a second
    apart: the governor remembers those of the last minute or so, not all of them."""
    clock = FakeTime()
    gov = Governor(Quota(), clock=clock, sleep=clock.sleep)
    most = 0
    for number in range(20_000):
        (await gov.acquire(f"/api/{number}")).done()
        clock.now += 0.1
        most = max(most, int(repr(gov).rsplit("apis=", 1)[1].rstrip(")")))
    assert most < 2_000
    gov.limit("/api/0", 1, 60.0)
    (await gov.acquire("/api/0")).done()  # a forgotten API works as before
    with pytest.raises(RequestTimeoutError):
        await gov.acquire("/api/0", within=1)


async def test_a_spent_budget_raises_within_the_retry_deadline_without_sending(
        wire: Scripted) -> None:
    wire.route(SEND, ok(task_id=1))
    async with client_with(wire, quota=Quota()) as c:
        assert c.governor is not None
        c.governor.record(SEND, 5000)  # the minute's recipients, spent just now
        with anyio.fail_after(1), pytest.raises(RequestTimeoutError) as raised:
            await c.work_notice.send(Text(content="x"), userids=["u"], timeout=2,
                                     retry=RetryPolicy(deadline=3))
        assert not raised.value.maybe_sent
    assert wire.sent(SEND) == []


async def test_queued_calls_take_the_token_after_their_slot() -> None:
    """Three revocations while 16 calls wait for their slots: each revocation costs one
    request, the first after it, and every call ends with the token of its time."""
    tokens = ["t1", "t2", "t3", "t4"]
    state = {"current": 0, "stale": 0, "issued": 0}

    def answer(request: MockRequest) -> MockResponse:
        if request.url.path == GETTOKEN:
            state["issued"] += 1
            return ok(access_token=tokens[state["current"]], expires_in=7200)
        if request.url.query["access_token"] != tokens[state["current"]]:
            state["stale"] += 1
            return err(40014, "invalid access_token")
        return ok(task_id=1)

    clock = ManualClock()
    gov = Governor(Quota(), clock=clock, sleep=clock.sleep)
    gov.limit(SEND, 1, 1.0)
    results: list[int] = []
    async with client_with(answer, quota=gov) as c:

        async def send() -> None:
            results.append(await c.work_notice.send(Text(content="x"), userids=["u"]))

        async with anyio.create_task_group() as tg:
            for _ in range(16):
                tg.start_soon(send)
            for step in range(40):
                if step in (3, 8, 13):
                    state["current"] += 1  # the token is revoked; the next fetch is new
                await clock.advance(1.01)
    assert results == [1] * 16
    assert state["stale"] == 3 and state["issued"] == 4

