"""Four processes on one app against one emulator: shared quotas and one token.

The emulator runs in the test process; each child builds a client of its own on the
shared Redis and starts at one wall-clock instant. Every test is bounded (< 60 s).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from multiprocessing.managers import SyncManager
from typing import Any

import pytest

from dingnotify import DingTalkClient, Quota
from dingnotify.redis import RedisCoordination
from dingnotify.testing import Emulator, Org, RateLimits
from tests.redis import _workers
from tests.redis.conftest import RedisServer

PROCESSES = 4


@pytest.fixture(scope="module")
def manager() -> Iterator[SyncManager]:
    """Hands the children a barrier, so they start together once all are ready."""
    with _workers.spawn().Manager() as shared:
        yield shared


def _jobs(emu: Emulator, redis: RedisServer, namespace: str, quota: Quota,
          manager: SyncManager, **extra: Any) -> list[dict[str, Any]]:
    app = emu.app
    barrier = manager.Barrier(PROCESSES)
    return [{"app_key": app.app_key, "app_secret": app.app_secret, "agent_id": app.agent_id,
             "url": emu.url, "redis_url": redis.url, "namespace": namespace,
             "quota": dataclasses.asdict(quota), "barrier": barrier, "content": "m",
             **{k: (v[i] if isinstance(v, list) else v) for k, v in extra.items()}}
            for i in range(PROCESSES)]


@pytest.mark.slow
async def test_four_processes_share_the_call_limits(redis_server: RedisServer,
                                                    namespace: str, manager: SyncManager) -> None:
    """4 x 20,000 userids (800 bulk calls at 36 of 40 qps, floor 22.2 s): 0 x 90018,
    0 x 90006, one /gettoken in all, and within 1.05 x the floor of one app's bulk share."""
    per = 20_000
    org = Org.synthetic(n_users=PROCESSES * per)
    users = list(org.users)
    limits = dataclasses.replace(RateLimits.professional(), recipients_per_minute=10**7)
    quota = Quota(qps=40, recipients_per_minute=10**7)
    async with Emulator(org=org, profile=limits, lean=True) as emu:
        jobs = _jobs(emu, redis_server, namespace, quota, manager,
                     userids=[users[i * per:(i + 1) * per] for i in range(PROCESSES)])
        results = await asyncio.to_thread(_workers.run_all, _workers.broadcast, jobs, 58)
        elapsed = max(r["end"] for r in results) - min(r["started"] for r in results)
        floor = PROCESSES * per / 100 / quota.allowed(int(quota.qps), "bulk")
        print(f"4 processes: {elapsed:.2f} s for a floor of {floor:.0f} s")
        assert [r["acknowledged"] for r in results] == [per] * PROCESSES
        assert sum(r["failed"] + r["unknown"] + r["rate_limited"] for r in results) == 0
        assert emu.throttled[90018] == 0 and emu.throttled[90006] == 0
        assert emu.count("/gettoken") == 1 == sum(r["refreshes"] for r in results)
        assert emu.undelivered.total() == 0
        assert elapsed <= 1.05 * floor


@pytest.mark.slow
async def test_four_processes_share_the_recipients_budget(redis_server: RedisServer,
                                                          namespace: str,
                                                          manager: SyncManager) -> None:
    """The recipients budget binds (1,000 a minute, the professional profile's shape with a
    smaller budget so the test is short): 4 x 300 recipients within a 6 s deadline send
    exactly the 900 that fit the broadcasts' bulk share (100 stay for interactive sends),
    none silently filtered; the rest are reported not sent."""
    org = Org.synthetic(n_users=1200)
    users = list(org.users)
    limits = dataclasses.replace(RateLimits.professional(), recipients_per_minute=1000)
    quota = Quota(qps=40, recipients_per_minute=1000)
    async with Emulator(org=org, profile=limits) as emu:
        jobs = _jobs(emu, redis_server, namespace, quota, manager, timeout=6.0,
                     userids=[users[i * 300:(i + 1) * 300] for i in range(PROCESSES)])
        results = await asyncio.to_thread(_workers.run_all, _workers.broadcast, jobs, 40)
        assert sum(r["acknowledged"] for r in results) == 900
        assert sum(r["failed"] for r in results) == 3
        assert sum(r["unknown"] + r["rate_limited"] for r in results) == 0
        assert emu.undelivered.total() == 0
        assert emu.throttled[90006] == 0


async def test_200_callers_in_4_processes_on_a_cold_store_fetch_one_token(
        redis_server: RedisServer, namespace: str, manager: SyncManager) -> None:
    async with Emulator() as emu:
        jobs = _jobs(emu, redis_server, namespace, Quota.professional(), manager, callers=50)
        results = await asyncio.to_thread(_workers.run_all, _workers.tokens, jobs, 40)
        assert emu.count("/gettoken") == 1 == sum(r["refreshes"] for r in results)
        assert len({t for r in results for t in r["tokens"]}) == 1


async def test_a_crashed_lock_holder_blocks_nobody_past_the_lock_expiry(
        redis_server: RedisServer, namespace: str) -> None:
    lock_timeout = 3.0
    async with Emulator() as emu:
        app = emu.app
        ready = _workers.spawn().Event()
        holder = _workers.spawn().Process(target=_workers.hold_lock, args=(
            {"redis_url": redis_server.url, "namespace": namespace, "ready": ready,
             "key": f"dingtalk:{app.app_key}", "lock_timeout": lock_timeout},))
        holder.start()
        try:
            assert await asyncio.to_thread(ready.wait, 30)
            taken = time.monotonic()
        finally:
            holder.kill()
            holder.join(10)
        shared = [RedisCoordination.from_url(redis_server.url, namespace=namespace)
                  for _ in range(3)]
        clients = [DingTalkClient(app.app_key, app.app_secret, base_url=emu.url,
                                  coordination=s) for s in shared]
        try:
            tokens = await asyncio.wait_for(
                asyncio.gather(*(c.get_access_token() for c in clients)), 20)
            waited = time.monotonic() - taken
        finally:
            for client, s in zip(clients, shared, strict=True):
                await client.aclose()
                await s.aclose()
        assert len(set(tokens)) == 1 and emu.count("/gettoken") == 1
        assert lock_timeout - 0.5 < waited < lock_timeout + 1.0
