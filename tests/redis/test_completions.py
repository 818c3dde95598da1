"""Slots are freed one window after the call's answer, not after its grant: a call in
flight holds its slot; a process killed mid-call frees it one TTL later; under random
call durations no window of one second can hold more calls than the budget."""

from __future__ import annotations

import asyncio
import random
import time

from dingnotify import Quota
from dingnotify._quota import SECOND_SPAN
from dingnotify.redis import RedisCoordination, RedisGovernor
from tests.redis.conftest import RedisServer


async def _flushed(governor: RedisGovernor) -> None:
    """Let the queued completions reach Redis."""
    for _ in range(100):
        await asyncio.sleep(0.01)
        state = governor._state_of
        if state is None or (not state.completions and (
                state.flusher is None or state.flusher.done())):
            return


async def test_a_call_in_flight_holds_its_slot_until_its_answer(
        coordination: RedisCoordination) -> None:
    governor = coordination.governor("app", Quota())
    governor.limit("/c", 2, 1.0)
    slots = [await governor.acquire("/c") for _ in range(2)]
    await asyncio.sleep(1.2)  # a window after the grants: still in flight
    wait = await governor.reserve("/c")
    assert wait is not None and wait >= 1.0
    for slot in slots:
        slot.done()
        slot.done()  # idempotent
    answered = time.monotonic()
    await _flushed(governor)
    wait = await governor.reserve("/c")
    assert wait is not None and 0.9 < wait <= SECOND_SPAN
    (await governor.acquire("/c")).done()
    assert time.monotonic() - answered >= 1.0


async def test_a_process_killed_mid_call_frees_its_slots_one_ttl_later(
        coordination: RedisCoordination) -> None:
    prefix = f"dingnotify:{{{coordination.namespace}:app}}:"
    crashed = RedisGovernor(coordination.client, prefix, Quota(), coordination.health,
                            processes=1, inflight_ttl=0.5)
    crashed.limit("/k", 2, 1.0)
    for _ in range(2):
        await crashed.acquire("/k")  # never done: the process "died" in the call
    other = coordination.governor("app", Quota())
    other.limit("/k", 2, 1.0)
    wait = await other.reserve("/k")
    assert wait is not None and wait >= 1.0
    await asyncio.sleep(0.5 + SECOND_SPAN + 0.05)
    assert await other.reserve("/k") == 0


async def test_no_second_holds_more_calls_than_the_budget_whatever_the_jitter(
        redis_server: RedisServer, namespace: str) -> None:
    """Three processes x 6 callers, calls lasting 0-300 ms at random, 10 calls a second:
    for every 1 s window, the calls that could have reached DingTalk inside it (granted
    before its end, answered after its start) number at most 10."""
    shared = [RedisCoordination.from_url(redis_server.url, namespace=namespace)
              for _ in range(3)]
    rng = random.Random(21)
    calls: list[tuple[float, float]] = []

    async def caller(governor: RedisGovernor) -> None:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            slot = await governor.acquire("/j")
            granted = time.monotonic()
            await asyncio.sleep(rng.uniform(0, 0.3))
            calls.append((granted, time.monotonic()))
            slot.done()

    try:
        governors = [s.governor("app", Quota(qps=10)) for s in shared]
        await asyncio.wait_for(asyncio.gather(*(caller(g) for g in governors
                                                for _ in range(6))), 20)
    finally:
        for s in shared:
            await s.aclose()
    starts = [g for g, _ in calls] + [a for _, a in calls]
    most = max(sum(1 for g, a in calls if g < t + 1.0 and a >= t) for t in starts)
    assert len(calls) >= 25
    assert most <= 10
