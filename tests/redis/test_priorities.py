"""Priorities on Redis: bulk reservations of every process see each budget less the
interactive reserve, interactive ones the whole of it; within a process a waiting
interactive call goes before the bulk calls of its API."""

from __future__ import annotations

import asyncio
import time

from dingnotify import Priority, Quota
from dingnotify.redis import RedisCoordination
from tests.redis.conftest import RedisServer

SEND = "/topapi/message/corpconversation/asyncsend_v2"


async def test_bulk_leaves_the_reserve_of_every_window_to_interactive_calls(
        redis_server: RedisServer, namespace: str) -> None:
    """Two processes: bulk fills 9 of 10 calls a second and 900 of 1,000 recipients a
    minute, in either process; the rest goes to interactive calls only."""
    quota = Quota(qps=40, recipients_per_minute=1000, userids_per_call=100)
    shared = [RedisCoordination.from_url(redis_server.url, namespace=namespace)
              for _ in range(2)]
    try:
        bulk, person = (s.governor("app", quota) for s in shared)
        for governor in (bulk, person):
            governor.limit("/x", 10, 1.0)
        for i in range(9):
            assert await (bulk if i % 2 else person).reserve("/x", priority="bulk") == 0
        for governor in (bulk, person):
            assert (await governor.reserve("/x", priority="bulk") or 0) > 0.5
        assert await person.reserve("/x") == 0
        assert (await bulk.reserve("/x") or 0) > 0.5  # the 11th: the whole budget is spent

        for _ in range(9):
            (await bulk.acquire(SEND, 100, priority="bulk")).done()
        wait = await person.reserve(SEND, 1, priority="bulk")
        assert wait is not None and wait > 50
        (await person.acquire(SEND, 100)).done()  # interactive: the last 100 are its own
        wait = await bulk.reserve(SEND, 1)
        assert wait is not None and wait > 50
    finally:
        for s in shared:
            await s.aclose()


async def test_a_waiting_interactive_call_goes_before_waiting_bulk_calls(
        coordination: RedisCoordination) -> None:
    """Two calls per 3 s and no reserve, so both priorities see the same budget: twelve
    bulk calls ask at once (two get the window, ten wait for it to free), then an
    interactive call. It gets one of the two slots that free at 3 s: without the ordering
    it would have two chances in eleven."""
    governor = coordination.governor("app", Quota(interactive_reserve=0))
    governor.limit("/y", 2, 3.0)
    started = time.monotonic()

    async def call(priority: Priority) -> float:
        (await governor.acquire("/y", priority=priority)).done()
        return time.monotonic() - started

    bulk = [asyncio.create_task(call("bulk")) for _ in range(12)]
    await asyncio.sleep(0.5)
    person = await asyncio.wait_for(call("interactive"), 10)
    for task in bulk:
        task.cancel()
    early = [t.result() for t in bulk if t.done() and not t.cancelled()]
    assert 2.9 < person < 4.0
    assert len(early) <= 3  # two at once, at most one beside the person at 3 s
