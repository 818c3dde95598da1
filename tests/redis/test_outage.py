"""Redis killed mid-broadcast: the broadcast finishes on this process's share of the
quotas, nothing lost, one warning; Redis back: shared again."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import time

import pytest

from dingnotify import DingTalkClient, Quota, RetryPolicy, Text
from dingnotify.redis import RedisCoordination
from dingnotify.testing import Emulator, Org, RateLimits
from tests.redis.conftest import RedisServer

SEND = "/topapi/message/corpconversation/asyncsend_v2"


@pytest.mark.slow
async def test_redis_killed_mid_broadcast(own_redis_server: RedisServer,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dingnotify.redis")
    org = Org.synthetic(n_users=12_000)
    limits = dataclasses.replace(RateLimits.professional(), recipients_per_minute=10**7)
    quota = Quota(qps=40, recipients_per_minute=10**7)
    shared = RedisCoordination.from_url(own_redis_server.url, namespace="outage",
                                        processes=4, retry_interval=0.5)
    app_key = org.apps[0].app_key
    async with Emulator(org=org, profile=limits, lean=True) as emu, shared, DingTalkClient(
            app_key, org.apps[0].app_secret, agent_id=org.apps[0].agent_id,
            base_url=emu.url, quota=quota, retry=RetryPolicy(max_attempts=1),
            coordination=shared) as client:
        sent_before: list[int] = []

        async def kill_soon() -> None:
            await asyncio.sleep(1.2)
            sent_before.append(emu.count(SEND))
            await asyncio.to_thread(own_redis_server.kill)

        started = time.monotonic()
        killer = asyncio.create_task(kill_soon())
        report = await asyncio.wait_for(client.work_notice.broadcast(
            Text(content="outage"), userids=list(org.users), concurrency=8), 45)
        elapsed = time.monotonic() - started
        await killer
        assert sum(len(b.userids) for b in report.acknowledged) == 12_000
        assert not report.failed and not report.unknown and report.rate_limited == 0
        assert emu.throttled[90018] == 0 and emu.undelivered.total() == 0
        assert not shared.available
        # 120 calls; about 40-50 before the kill, the rest at a quarter of 40 a second.
        after = 120 - sent_before[0]
        assert elapsed > 1.2 + (after - 10) / 10 * 0.9
        warnings = [r for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) == 1 and "Redis unavailable" in warnings[0].getMessage()

        await asyncio.to_thread(own_redis_server.start)
        await asyncio.sleep(0.6)  # past retry_interval: the next call asks Redis again
        await client.work_notice.send(Text(content="back"), userids=[next(iter(org.users))])
        assert shared.available
        # Redis came back empty: the process put back the calls Redis had granted it
        # before the kill (all within the minute), then reserved the new one.
        prefix = f"dingnotify:{{outage:{app_key}}}:"
        assert await shared.client.zcard(f"{prefix}m:{SEND}") >= sent_before[0] + 1
        assert any("answers again" in r.getMessage() for r in caplog.records)
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) == 2 and "lost the shared quota windows" in warnings[1]


async def test_a_frozen_redis_costs_one_bounded_wait_then_paces_locally(
        own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    """A server that stops answering (SIGSTOP) is a timeout, not a hang: the first call
    waits at most op_timeout, later ones pace locally until it answers again."""
    process = own_redis_server.process
    assert process is not None
    async with RedisCoordination.from_url(own_redis_server.url, namespace="frozen",
                                          op_timeout=0.3, retry_interval=0.5) as shared:
        governor = shared.governor("app", Quota(qps=40))
        (await governor.acquire("/x")).done()
        assert shared.available
        process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            for _ in range(5):
                (await governor.acquire("/x")).done()
            assert time.monotonic() - started < 0.3 + 0.5
            assert not shared.available
        finally:
            process.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.6)
        (await governor.acquire("/y")).done()
        assert shared.available
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1
