"""``python -m benchmarks.cards [--updates N] [--qps Q ...] [--json out.json]``: card
updates per second against the quota floor.

A burst of ``N`` concurrent ``client.cards.update`` calls on one card, the client's
governor holding the card budget at ``Q`` calls a second, against an emulator enforcing
the standard edition's 20 calls a second per API. The floor is the least time the budget
allows (``(N - Q) / Q``: a sliding one-second window lets the first ``Q`` calls go in the
first second); the figures are the rate achieved, the floor's share of the elapsed time
(100 % = as fast as the budget permits) and the rate-limit answers (0 is the goal).
Pacing-bound, not CPU-bound: one repetition per budget.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from dingnotify import DingTalkClient, Quota
from dingnotify.cards import CARD_QPS
from dingnotify.testing import Emulator

TEMPLATE = "bench.schema"


async def burst(updates: int, qps: int) -> dict[str, Any]:
    async with Emulator(profile="standard", lean=True) as emu:
        emu.add_card_template(TEMPLATE, ["n"])
        app = emu.app
        async with DingTalkClient(app.app_key, app.app_secret, robot_code=emu.robot_code,
                                  base_url=emu.url, api_base_url=emu.url,
                                  quota=Quota.standard()) as client:
            client.cards.qps = qps
            await client.cards.deliver(TEMPLATE, out_track_id="bench-1", data={"n": 0},
                                       userids=["u000001"])
            await asyncio.sleep(1.1)  # the delivery's second passes
            start = time.perf_counter()
            await asyncio.gather(*(client.cards.update("bench-1", data={"n": i})
                                   for i in range(updates)))
            elapsed = time.perf_counter() - start
        floor = max(0, updates - qps) / qps
        return {"updates": updates, "qps": qps, "elapsed_s": round(elapsed, 3),
                "floor_s": round(floor, 3), "per_second": round(updates / elapsed, 2),
                "floor_share": round(floor / elapsed, 3),
                "rate_limit_answers": emu.robot.throttled.total(),
                "final": emu.card("bench-1").public["n"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--qps", type=int, nargs="+", default=[CARD_QPS, 20])
    parser.add_argument("--json", help="write the rows to this file")
    options = parser.parse_args()
    rows = [asyncio.run(burst(options.updates, qps)) for qps in options.qps]
    print("| updates | budget (calls/s) | elapsed s | floor s | updates/s | floor/elapsed | 403s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['updates']} | {r['qps']} | {r['elapsed_s']} | {r['floor_s']} | "
              f"{r['per_second']} | {r['floor_share']:.0%} | {r['rate_limit_answers']} |")
    if options.json:
        with open(options.json, "w") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
