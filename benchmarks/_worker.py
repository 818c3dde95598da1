"""``python -m benchmarks._worker SCENARIO CONTENDER URL SIZE [PARAMS]``: one run, JSON on stdout.

A fresh interpreter per run keeps peak RSS and CPU time honest for each contender. ``PARAMS``
is a JSON object: ``quota`` (``Quota`` fields for the contenders that honour one, else the
client runs with ``quota=None``) and ``robot_code`` (the emulator's robot).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from typing import Any

from dingnotify import Quota

from . import _contenders as c

QUOTA_SCENARIOS = ("quota", "quota-calls", "quota-recipients")


def _threads(contender: str) -> int:
    return {"peer-seq": 1, "peer-16": 16, "peer-64": 64}[contender]


def run(scenario: str, contender: str, url: str, size: int, params: dict[str, Any]
        ) -> dict[str, Any]:
    if scenario in QUOTA_SCENARIOS:
        # "dingnotify": the client's Quota equals the emulator's limits; "quota-off": none.
        quota = Quota(**params["quota"]) if contender == "dingnotify" else None
        return asyncio.run(c.dingnotify_broadcast(
            url, size, quota=quota, poll=False, wait=scenario != "quota-calls",
            must_succeed=quota is not None))
    if scenario in ("broadcast", "memory"):
        if contender == "ceiling":
            return asyncio.run(c.ceiling_broadcast(url, size))
        if contender == "dingnotify":
            return asyncio.run(c.dingnotify_broadcast(
                url, size, stream=scenario == "memory", poll=scenario == "broadcast"))
        return c.peer_broadcast(url, size, _threads(contender))
    if scenario == "robot":
        if contender == "dingnotify":
            return asyncio.run(c.dingnotify_robot(url, size, params["robot_code"]))
        if contender == "work-notice":
            return asyncio.run(c.dingnotify_broadcast(url, size, poll=False))
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
    params: dict[str, Any] = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = run(scenario, contender, url, size, params)
    after = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["rss_mb"] = after.ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
