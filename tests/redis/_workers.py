"""What each child process runs: a client of its own on the shared Redis, started when
every process is ready (a barrier) so the processes really overlap. Module-level functions, so the
``spawn`` start method can import them."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from dingnotify import DingTalkClient, Quota, RetryPolicy, Text
from dingnotify.redis import RedisCoordination

ONCE = RetryPolicy(max_attempts=1)


def _client(job: dict[str, Any], coordination: RedisCoordination) -> DingTalkClient:
    return DingTalkClient(job["app_key"], job["app_secret"], agent_id=job["agent_id"],
                          base_url=job["url"], quota=Quota(**job["quota"]), retry=ONCE,
                          coordination=coordination)


async def _ready(job: dict[str, Any]) -> float:
    """Wait until every process is ready (imports, client built), then start together."""
    await asyncio.to_thread(job["barrier"].wait, 30)
    return time.time()


async def _broadcast(job: dict[str, Any]) -> dict[str, Any]:
    shared = RedisCoordination.from_url(job["redis_url"], namespace=job["namespace"])
    async with shared, _client(job, shared) as client:
        started = await _ready(job)
        report = await client.work_notice.broadcast(
            Text(content=job["content"]), userids=job["userids"], concurrency=8,
            timeout=job.get("timeout"))
        return {"started": started, "end": time.time(), "acknowledged": sum(
                    len(b.userids) for b in report.acknowledged),
                "failed": len(report.failed), "unknown": len(report.unknown),
                "rate_limited": report.rate_limited, "refreshes": client.token_refreshes}


async def _tokens(job: dict[str, Any]) -> dict[str, Any]:
    shared = RedisCoordination.from_url(job["redis_url"], namespace=job["namespace"])
    async with shared, _client(job, shared) as client:
        await _ready(job)
        tokens = await asyncio.gather(*(client.get_access_token()
                                        for _ in range(job["callers"])))
        return {"tokens": sorted(set(tokens)), "refreshes": client.token_refreshes}


async def _hold_lock(job: dict[str, Any]) -> dict[str, Any]:
    async with RedisCoordination.from_url(job["redis_url"], namespace=job["namespace"],
                                          lock_timeout=job["lock_timeout"]) as shared:
        assert await shared.token_lock(job["key"]).acquire() == 0
        job["ready"].set()
        await asyncio.sleep(3600)  # killed here, holding the lock
    return {}


def broadcast(job: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_broadcast(job))


def tokens(job: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_tokens(job))


def hold_lock(job: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_hold_lock(job))


def spawn() -> multiprocessing.context.SpawnContext:
    return multiprocessing.get_context("spawn")


def run_all(target: Callable[[dict[str, Any]], dict[str, Any]],
            jobs: Sequence[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    """Run one job per process (blocking: call it from a thread) within ``timeout``."""
    with ProcessPoolExecutor(len(jobs), mp_context=spawn()) as pool:
        futures = [pool.submit(target, job) for job in jobs]
        deadline = time.monotonic() + timeout
        try:
            return [f.result(timeout=max(0.0, deadline - time.monotonic())) for f in futures]
        except BaseException:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
            raise
