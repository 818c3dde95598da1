"""One ``RedisCoordination`` used by consecutive ``asyncio.run`` calls (Celery tasks,
scripts): each loop gets a client of its own, and the shared state carries over."""

from __future__ import annotations

import asyncio

from dingnotify import Quota
from dingnotify.redis import RedisCoordination
from tests.redis.conftest import RedisServer


def test_one_coordination_serves_consecutive_event_loops(redis_server: RedisServer,
                                                         namespace: str) -> None:
    shared = RedisCoordination.from_url(redis_server.url, namespace=namespace)
    governor = shared.governor("app", Quota())
    governor.limit("/l", 3, 60.0)
    store = shared.token_store()

    async def job(n: int) -> float | None:
        (await governor.acquire("/l")).done()
        await store.set(f"k{n}", f"v{n}", 30)
        assert await store.get("k0") == "v0"
        assert shared.available
        return await governor.reserve("/l") if n == 2 else None

    for n in range(2):
        assert asyncio.run(job(n)) is None
    wait = asyncio.run(job(2))  # the third call of the window: the fourth must wait
    assert wait is not None and wait > 50
    assert shared.health.outages == 0

    async def scores() -> tuple[list[float], float]:
        key = f"dingnotify:{{{namespace}:app}}:m:/l"
        found = await shared.client.zrange(key, 0, -1, withscores=True)
        seconds, micros = await shared.client.time()
        await shared.aclose()
        return [s for _, s in found], seconds + micros / 1e6

    completed, now = asyncio.run(scores())
    assert len(completed) == 3
    assert all(s <= now for s in completed)  # each loop sent its completions on its way out
