"""The shared windows lose their history (Redis restarted without persistence, or
flushed): the processes that used them put back what they sent before anyone sends on
the fresh ones. And a process that falls back in an outage starts from the shared window
as it last saw it. The recipients window is shortened to 4 s so each test takes seconds."""

from __future__ import annotations

import asyncio
import time

import pytest

from dingnotify import Quota
from dingnotify.redis import RedisCoordination, RedisGovernor
from tests.redis.conftest import RedisServer

SEND = "/topapi/message/corpconversation/asyncsend_v2"
SPAN = 4.0
QUOTA = Quota(recipients_per_minute=5000, userids_per_call=100, interactive_reserve=0)


def governor(shared: RedisCoordination, *, processes: int = 1) -> RedisGovernor:
    prefix = f"dingnotify:{{{shared.namespace}:app}}:"
    made = RedisGovernor(shared._clients, prefix, QUOTA, shared.health, processes=processes,
                         minute_span=SPAN, check_interval=0.2)
    shared._governors["app", QUOTA] = made
    return made


async def _spend(on: RedisGovernor, recipients: int) -> float:
    """Send ``recipients`` in calls of 100; the time of the first grant."""
    first = None
    for _ in range(recipients // 100):
        slot = await on.acquire(SEND, 100)
        first = first or time.monotonic()
        slot.done()
    assert first is not None
    return first


@pytest.mark.parametrize("loss", ["restart", "flushall"])
async def test_a_lost_window_is_put_back_before_anyone_sends_on_it(
        own_redis_server: RedisServer, loss: str) -> None:
    """A spends 3,000 of 5,000; the history is lost; A, idle, notices and puts its 3,000
    back; B then asks for 3,000 and waits until 1,000 of A's are a window old."""
    url = own_redis_server.url
    async with RedisCoordination.from_url(url, namespace="ns", retry_interval=0.3) as a:
        first = await _spend(governor(a), 3000)
        if loss == "restart":
            await asyncio.to_thread(own_redis_server.kill)
            await asyncio.to_thread(own_redis_server.start)
        else:
            await a.client.flushall()
        await asyncio.sleep(1.2)  # A checks every 0.2 s, and retries Redis after 0.3 s
        async with RedisCoordination.from_url(url, namespace="ns") as b:
            (await governor(b).acquire(SEND, 3000)).done()
            granted = time.monotonic()
        assert granted - first >= SPAN  # A's calls count from their answers
        assert granted - first < SPAN + 3


async def test_the_first_use_of_a_namespace_starts_at_once(
        own_redis_server: RedisServer) -> None:
    async with RedisCoordination.from_url(own_redis_server.url, namespace="new") as b:
        started = time.monotonic()
        (await governor(b).acquire(SEND, 3000)).done()
        assert time.monotonic() - started < 0.5


async def test_a_fallback_counts_what_the_others_had_sent(
        own_redis_server: RedisServer) -> None:
    """Two processes (1/2 of the budget each while Redis is down): B sent 1,000, then A
    1,500, so A last saw 2,500 in the shared window. Redis goes down: A's half is spent
    (1,500 of its own, 1,000 of B's), so A waits; a process that never reached Redis
    starts at once on its half."""
    url = own_redis_server.url
    async with RedisCoordination.from_url(url, namespace="ns", processes=2) as a, \
            RedisCoordination.from_url(url, namespace="ns", processes=2) as b:
        mine, theirs = governor(a, processes=2), governor(b, processes=2)
        await _spend(theirs, 1000)
        await _spend(mine, 1500)
        await asyncio.to_thread(own_redis_server.kill)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(mine.acquire(SEND, 100), 1.0)
        assert not a.available
        async with RedisCoordination.from_url(url, namespace="ns", processes=2) as c:
            started = time.monotonic()
            (await governor(c, processes=2).acquire(SEND, 100)).done()
            assert time.monotonic() - started < 0.5
