"""``python -m benchmarks.redis_coordination [--json out.json]`` (< 60 s, needs
``redis-server`` on PATH or ``--redis-url``).

Several processes on one app (professional profile, 40 calls a second per API, recipients
uncapped so the call limits bind), against one emulator in this process:

- one process alone, the same total from four processes pacing alone (what goes wrong),
  and from four processes sharing Redis: elapsed vs the app's floor (calls / qps),
  rate-limit answers, ``/gettoken`` calls;
- the latency a Redis reservation adds to each call, against the local governor's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import statistics
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from multiprocessing.managers import SyncManager
from typing import Any

from dingnotify import Quota
from dingnotify._quota import Governor
from dingnotify.redis import RedisCoordination
from dingnotify.testing import Emulator, Org, RateLimits

from ._redis_worker import broadcast
from ._server import redis_server

QPS = 40
TOTAL = 20_000  # userids: 200 calls of 100, a floor of 5 s at 40 a second
LATENCY_CALLS = 1_000


async def _scenario(name: str, processes: int, shared: bool, redis_url: str,
                    manager: SyncManager) -> dict[str, Any]:
    org = Org.synthetic(n_users=TOTAL)
    users, app = list(org.users), org.apps[0]
    limits = dataclasses.replace(RateLimits.professional(), recipients_per_minute=10**7)
    per = TOTAL // processes
    async with Emulator(org=org, profile=limits, lean=True) as emu:
        barrier = manager.Barrier(processes)
        jobs = [{"app_key": app.app_key, "app_secret": app.app_secret,
                 "agent_id": app.agent_id, "url": emu.url, "redis_url": redis_url,
                 "namespace": uuid.uuid4().hex, "shared": shared, "content": name,
                 "quota": dataclasses.asdict(Quota(qps=QPS, recipients_per_minute=10**7)),
                 "barrier": barrier, "userids": users[i * per:(i + 1) * per]}
                for i in range(processes)]
        for job in jobs:
            job["namespace"] = jobs[0]["namespace"]

        def run() -> list[dict[str, Any]]:
            with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
                return list(pool.map(broadcast, jobs, timeout=40))

        results = await asyncio.to_thread(run)
        return {"scenario": name, "processes": processes,
                "elapsed_s": round(max(r["end"] for r in results)
                                   - min(r["started"] for r in results), 2),
                "floor_s": TOTAL / 100 / QPS,
                "acknowledged": sum(r["acknowledged"] for r in results),
                "90018": emu.throttled[90018], "90006": emu.throttled[90006],
                "gettoken": emu.count("/gettoken"),
                "start_spread_s": round(max(r["started"] for r in results)
                                        - min(r["started"] for r in results), 3)}


async def _latency(redis_url: str) -> dict[str, Any]:
    quota = Quota(qps=10**6, calls_per_minute=10**9, recipients_per_minute=10**9)
    local = Governor(quota)
    rows: dict[str, Any] = {"calls": LATENCY_CALLS}
    async with RedisCoordination.from_url(redis_url, namespace=uuid.uuid4().hex) as shared:
        governor = shared.governor("bench", quota)
        for label, acquire, recipients in (("local", local.acquire, 0),
                                           ("redis", governor.acquire, 0),
                                           ("redis+recipients", governor.acquire, 100)):
            samples = []
            for _ in range(LATENCY_CALLS):
                started = time.perf_counter()
                await acquire(f"/{label}", recipients)
                samples.append((time.perf_counter() - started) * 1000)
            samples.sort()
            rows[label] = {"p50_ms": round(statistics.median(samples), 3),
                           "p99_ms": round(samples[int(0.99 * len(samples))], 3)}
    rows["added_p50_ms"] = round(rows["redis"]["p50_ms"] - rows["local"]["p50_ms"], 3)
    return rows


async def main(redis_url: str) -> dict[str, Any]:
    with get_context("spawn").Manager() as manager:
        scenarios = [await _scenario("one process", 1, False, redis_url, manager),
                     await _scenario("4 processes, each alone", 4, False, redis_url, manager),
                     await _scenario("4 processes, shared Redis", 4, True, redis_url, manager)]
    return {"scenarios": scenarios, "latency": await _latency(redis_url)}


def _print(result: dict[str, Any]) -> None:
    print("| scenario | processes | elapsed s | floor s | x floor | acknowledged | 90018 | "
          "90006 | /gettoken |\n|---|---|---|---|---|---|---|---|---|")
    for s in result["scenarios"]:
        print(f"| {s['scenario']} | {s['processes']} | {s['elapsed_s']:.2f} | "
              f"{s['floor_s']:.0f} | {s['elapsed_s'] / s['floor_s']:.2f} | "
              f"{s['acknowledged']} | {s['90018']} | {s['90006']} | {s['gettoken']} |")
    lat = result["latency"]
    print(f"\nreservation latency over {lat['calls']} calls (ms): local governor p50 "
          f"{lat['local']['p50_ms']} p99 {lat['local']['p99_ms']}; Redis p50 "
          f"{lat['redis']['p50_ms']} p99 {lat['redis']['p99_ms']}; Redis with recipients p50 "
          f"{lat['redis+recipients']['p50_ms']} p99 {lat['redis+recipients']['p99_ms']}; "
          f"added p50 {lat['added_p50_ms']} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_coordination")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--redis-url", help="use this Redis instead of starting one")
    args = parser.parse_args()
    started = time.monotonic()
    with contextlib.nullcontext(args.redis_url) if args.redis_url else redis_server() as url:
        result = asyncio.run(main(url))
    result["total_s"] = round(time.monotonic() - started, 1)
    _print(result)
    print(f"\ntotal {result['total_s']} s")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
