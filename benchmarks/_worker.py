"""``python -m benchmarks._worker SCENARIO CONTENDER URL SIZE``: one run, JSON on stdout.

A fresh interpreter per run keeps peak RSS and CPU time honest for each contender.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from typing import Any

from . import _contenders as c


def _threads(contender: str) -> int:
    return {"peer-seq": 1, "peer-16": 16, "peer-64": 64}[contender]


def run(scenario: str, contender: str, url: str, size: int) -> dict[str, Any]:
    if scenario in ("broadcast", "quota", "memory"):
        if contender == "ceiling":
            return asyncio.run(c.ceiling_broadcast(url, size))
        if contender == "dingnotify":
            rate = 40.0 if scenario == "quota" else None
            return asyncio.run(c.dingnotify_broadcast(
                url, size, rate=rate, stream=scenario == "memory", poll=scenario == "broadcast"))
        if contender == "dingnotify-unpaced":
            return asyncio.run(c.dingnotify_broadcast(url, size, rate=None, poll=False))
        return c.peer_broadcast(url, size, _threads(contender))
    if scenario == "web":
        if contender == "ceiling":
            return asyncio.run(c.ceiling_web(url, size, tasks=500))
        if contender == "dingnotify":
            return asyncio.run(c.dingnotify_web(url, size, tasks=500))
        return c.peer_web(url, size, _threads(contender))
    if scenario == "storm":
        if contender == "dingnotify":
            return asyncio.run(c.dingnotify_storm(url, size))
        return c.peer_storm(url, size, _threads(contender))
    raise SystemExit(f"unknown scenario/contender {scenario}/{contender}")


def main() -> None:
    scenario, contender, url, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = run(scenario, contender, url, size)
    after = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["rss_mb"] = after.ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
