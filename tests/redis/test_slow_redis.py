"""A Redis 100-200 ms away (a delaying proxy on 127.0.0.1): reservations overlap, so its
latency costs a process little of its budget, and a slow answer is an answer, not an
outage. Behavioural bounds, kept loose: the figures are in ``_proxy``'s ``__main__``."""

from __future__ import annotations

from tests.redis._proxy import grant_rate, slow_proxy
from tests.redis.conftest import RedisServer


async def test_at_100_ms_a_process_gets_most_of_20_calls_a_second(
        redis_server: RedisServer) -> None:
    async with slow_proxy(redis_server.port, 0.1) as port:
        rate, outages = await grant_rate(f"redis://127.0.0.1:{port}/0", seconds=5.0)
    assert outages == 0
    assert rate >= 15  # one Redis round trip at a time allowed 7.7


async def test_at_200_ms_a_process_stays_on_the_shared_budget(
        redis_server: RedisServer) -> None:
    async with slow_proxy(redis_server.port, 0.2) as port:
        rate, outages = await grant_rate(f"redis://127.0.0.1:{port}/0", seconds=5.0)
    assert outages == 0
    assert rate >= 10  # not the quarter share (5 a second) of a process that fell back
