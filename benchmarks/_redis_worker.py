"""One child process of ``benchmarks.redis_coordination``: a client of its own (on the
shared Redis, or pacing alone), started when every process is ready (a barrier)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dingnotify import DingTalkClient, Quota, RetryPolicy, Text
from dingnotify.redis import RedisCoordination


async def _broadcast(job: dict[str, Any]) -> dict[str, Any]:
    shared = (RedisCoordination.from_url(job["redis_url"], namespace=job["namespace"])
              if job["shared"] else None)
    client = DingTalkClient(job["app_key"], job["app_secret"], agent_id=job["agent_id"],
                            base_url=job["url"], quota=Quota(**job["quota"]),
                            retry=RetryPolicy(max_attempts=1), coordination=shared)
    try:
        async with client:
            await asyncio.to_thread(job["barrier"].wait, 30)  # every process is ready
            started = time.time()
            report = await client.work_notice.broadcast(Text(content=job["content"]),
                                                        userids=job["userids"], concurrency=8)
            return {"started": started, "end": time.time(), "rate_limited": report.rate_limited,
                    "acknowledged": sum(len(b.userids) for b in report.acknowledged)}
    finally:
        if shared is not None:
            await shared.aclose()


def broadcast(job: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_broadcast(job))
