"""The Lua scripts against a real Redis: many concurrent reservations never exceed a
budget, the lock is owned and expiring, penalties reach every process."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time

import pytest

from dingnotify import Coordination, Quota, RateLimitedError
from dingnotify._quota import MINUTE_SPAN, SECOND_SPAN
from dingnotify.redis import RedisCoordination, RedisGovernor, local_share
from dingnotify.redis._governor import SHARED_MARGIN
from tests.redis.conftest import RedisServer

API = "/topapi/message/corpconversation/asyncsend_v2"


async def _entries(shared: RedisCoordination, key: str) -> list[tuple[bytes, float]]:
    return [(m, float(s)) for m, s in await shared.client.zrange(key, 0, -1, withscores=True)]


def _most_in_any_span(stamps: list[float], span: float) -> int:
    stamps = sorted(stamps)
    most, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= span:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_concurrent_reservations_never_exceed_a_budget(
        redis_server: RedisServer, namespace: str) -> None:
    """Four coordinations (as four processes) x 25 tasks reserve for ~2.5 s against
    qps 10, 40 calls a minute and 1,000 recipients a minute: the windows kept in Redis
    (server time) hold every grant, and no span holds more than its budget."""
    quota = Quota(qps=10, calls_per_minute=40, recipients_per_minute=1000,
                  userids_per_call=100)
    shared = [RedisCoordination.from_url(redis_server.url, namespace=namespace)
              for _ in range(4)]
    governors = [s.governor("app", quota) for s in shared]
    granted: list[int] = []
    rng = random.Random(7)

    async def caller(governor: RedisGovernor) -> None:
        weight = rng.randint(1, 100)
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            if await governor.reserve(API, weight) == 0:
                granted.append(weight)
            else:
                await asyncio.sleep(rng.uniform(0, 0.05))

    try:
        await asyncio.gather(*(caller(g) for g in governors for _ in range(25)))
        prefix = f"dingnotify:{{{namespace}:app}}:"
        minute = await _entries(shared[0], f"{prefix}m:{API}")
        recipients = await _entries(shared[0], f"{prefix}r")
        assert len(minute) == len(granted) == len(recipients)
        assert 10 <= len(granted) <= 40  # the recipients budget (random weights) may bind first
        assert _most_in_any_span([s for _, s in minute], SECOND_SPAN) <= 10
        weights = [int(m.rsplit(b":", 1)[1]) for m, _ in recipients]
        assert sum(weights) == sum(granted) <= 1000
        assert int(await shared[0].client.get(f"{prefix}rt")) == sum(weights)
    finally:
        for s in shared:
            await s.aclose()


async def test_a_full_window_answers_how_long_to_wait(coordination: RedisCoordination) -> None:
    """Three slots a second, bulk ones spread over half a (widened) second: the fourth
    waits for the first to leave the window, one span after its completion reached Redis (a few
    milliseconds after ``reserve`` answered it at once)."""
    governor = coordination.governor("app", Quota(qps=3))
    assert await governor.reserve("/x", priority="bulk") == 0
    gap = await governor.reserve("/x", priority="bulk")  # spacing paces bulk calls only
    span = SECOND_SPAN + SHARED_MARGIN
    assert gap is not None and 0.1 < gap <= 0.5 * span / 3
    started = time.monotonic()
    for _ in range(2):
        (await governor.acquire("/x")).done()
    asked = time.monotonic()  # no later than Redis reads its clock for the answer
    wait = await governor.reserve("/x")
    assert wait is not None and 0.5 < wait <= span - (asked - started) + 0.05
    (await governor.acquire("/x")).done()
    assert 0.9 < time.monotonic() - started < 1.4


async def test_recipients_window_waits_a_minute_for_its_oldest_send(
        coordination: RedisCoordination) -> None:
    """(In flight, a send holds its recipients a whole window from now: see
    test_completions.)"""
    governor = coordination.governor("app", Quota(recipients_per_minute=300))
    (await governor.acquire(API, 200)).done()
    (await governor.acquire(API, 100)).done()
    wait = await governor.reserve(API, 1)
    assert wait is not None and MINUTE_SPAN - 1 < wait <= MINUTE_SPAN + 1e-5


async def test_a_rate_limit_answer_slows_every_process(
        redis_server: RedisServer, coordination: RedisCoordination) -> None:
    async with RedisCoordination.from_url(redis_server.url,
                                          namespace=coordination.namespace) as other:
        mine = coordination.governor("app", Quota.professional())
        theirs = other.governor("app", Quota.professional())
        mine.penalize(API, RateLimitedError(90018, path=API))
        (await mine.acquire("/elsewhere")).done()  # flushes the shared penalty first
        wait = await theirs.reserve(API)
        assert wait is not None and 0.8 < wait <= 1.0
        assert await theirs.reserve("/third") == 0


async def test_below_one_call_a_second_the_window_widens(
        coordination: RedisCoordination) -> None:
    governor = coordination.governor("app", Quota(qps=0.5))
    assert await governor.reserve("/slow") == 0
    wait = await governor.reserve("/slow")
    assert wait is not None and 1.9 < wait <= 2 * (SECOND_SPAN + SHARED_MARGIN)


async def test_the_lock_is_owned_and_expires(
        redis_server: RedisServer, coordination: RedisCoordination) -> None:
    async with RedisCoordination.from_url(redis_server.url, namespace=coordination.namespace,
                                          lock_timeout=0.3) as other:
        first = other.token_lock("dingtalk:k")
        second = coordination.token_lock("dingtalk:k")
        assert await first.acquire() == 0
        left = await second.acquire()
        assert 0.2 < left <= 0.3
        await second.release()  # not its lock: nothing happens
        assert 0 < await second.acquire() <= 0.3
        await asyncio.sleep(left + 0.05)
        assert await second.acquire() == 0
        await first.release()  # expired and taken since: must not free the new holder's
        assert await other.token_lock("dingtalk:k").acquire() > 0
        await second.release()
        assert await other.token_lock("dingtalk:k").acquire() == 0


async def test_unreachable_redis_paces_locally_and_warns_once(
        caplog: pytest.LogCaptureFixture) -> None:
    async with RedisCoordination.from_url("redis://127.0.0.1:1/0", namespace="n",
                                          processes=4) as shared:
        governor = shared.governor("app", Quota(qps=8))
        started = time.monotonic()
        for _ in range(4):
            (await governor.acquire("/x")).done()
        assert time.monotonic() - started > 0.9  # 2 a second: this process's quarter
        assert not shared.available
        store = shared.token_store()
        await store.set("k", "v", 10)
        assert await store.get("k") == "v"
    warnings = [r for r in caplog.records if r.name == "dingnotify.redis"
                and r.levelname == "WARNING"]
    assert len(warnings) == 1


def test_local_share_is_one_nth_of_each_budget() -> None:
    share = local_share(Quota.professional(), 4)
    assert (share.qps, share.calls_per_minute, share.recipients_per_minute) == (10, 375, 1250)
    assert local_share(Quota(qps=2), 4).qps == 0.5


def test_redis_coordination_is_a_coordination(coordination: RedisCoordination) -> None:
    assert isinstance(coordination, Coordination)


def test_nothing_imports_redis_unless_dingnotify_redis_is() -> None:
    code = ("import sys, dingnotify, dingnotify.testing; "
            "assert not any(m == 'redis' or m.startswith('redis.') for m in sys.modules); "
            "import dingnotify.redis; assert 'redis' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
