"""``python -m benchmarks.mixed [--quick] [--json FILE]``: people beside a broadcast (issue 21).

One client on the standard profile (``Quota.standard()``, the emulator's limits) runs a
broadcast that saturates the recipients budget while the same client sends one
interactive one-recipient ``work_notice.send`` every ``INTERVAL`` seconds, until the
broadcast ends. Reported: each interactive send's **slot wait** (from the call to its
request leaving, read by a transport wrapper), the broadcast's elapsed time against the
floor of its share of the budgets (``1 - interactive_reserve`` of each) and of the whole
budgets, the emulator's rate-limit answers and undelivered recipients.

The lean emulator serves from core 0 in its own process, the client runs in a fresh
interpreter pinned to core 1 (``python -m benchmarks.mixed --worker URL SIZE``), as in
``python -m benchmarks``. The script uses only names that existed before issue 21 (no
``priority=``: the defaults say who waits), so the same file measures an older revision
from its checkout: ``cd /tmp/before && python -m benchmarks.mixed``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import subprocess
import sys
import time
from typing import Any

from ._report import RESERVE, floor_seconds, share
from ._server import LeanServer, cpu_pin

STANDARD = {"qps": 20, "per_minute": 1500, "recipients_per_minute": 5000,
            "monthly_calls": 5000, "ip_calls_per_window": 10_000}
QUICK = {**STANDARD, "recipients_per_minute": 1000}
SIZES = {False: 15_000, True: 850}
"""Full: three windows of bulk's 4,500 and a fourth; quick: nearly bulk's whole share of
900 at once (the people's sends count in the window too), and the people's sends beside
it for ``QUICK_SECONDS``."""
QUICK_SECONDS = 10.0
INTERVAL = 0.5
PEOPLE = 1_000
"""Users beyond the broadcast's, one per interactive send."""
SEND = "/topapi/message/corpconversation/asyncsend_v2"
TARGET_P99 = 0.2
TARGET_FLOOR = 1.03
RUN_TIMEOUT = 600

_left: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("left", default=None)


class Stamped:
    """The client's transport; notes when each request of a marked task leaves."""

    def __init__(self) -> None:
        from dingnotify import AiohttpTransport

        self._inner = AiohttpTransport()

    async def handle(self, request: Any) -> Any:
        stamps = _left.get()
        if stamps is not None:
            stamps.append(time.perf_counter())
        return await self._inner.handle(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def worker(url: str, size: int, quick: bool) -> dict[str, Any]:
    import dingnotify
    from dingnotify import Quota, Text

    from ._contenders import AGENT_ID, APP_KEY, APP_SECRET, CONCURRENCY, MESSAGE, userids

    quota = Quota(recipients_per_minute=QUICK["recipients_per_minute"]) if quick \
        else Quota.standard()
    people = [f"u{i:06d}" for i in range(size + 1, size + PEOPLE + 1)]
    waits: list[float] = []
    failures: list[str] = []
    done = asyncio.Event()
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=AGENT_ID,
                                         base_url=url, quota=quota,
                                         transport=Stamped()) as client:
        await client.get_access_token()

        async def person(userid: str) -> None:
            stamps: list[float] = []
            _left.set(stamps)
            started = time.perf_counter()
            try:
                await client.work_notice.send(Text(content="Your leave is approved."),
                                              userids=[userid])
            except dingnotify.DingNotifyError as exc:
                failures.append(type(exc).__name__)
            waits.append((stamps[0] if stamps else time.perf_counter()) - started)

        async def people_loop() -> None:
            tasks = []
            for userid in people:
                if done.is_set():
                    break
                tasks.append(asyncio.ensure_future(person(userid)))
                await asyncio.sleep(INTERVAL)
            await asyncio.gather(*tasks)

        loop = asyncio.ensure_future(people_loop())
        started = time.perf_counter()
        report = await client.work_notice.broadcast(MESSAGE, userids=list(userids(size)),
                                                    concurrency=CONCURRENCY)
        elapsed = time.perf_counter() - started
        if quick:
            await asyncio.sleep(max(0.0, QUICK_SECONDS - elapsed))
        done.set()
        await loop
    return {"broadcast_s": elapsed, "batches": len(report.batches),
            "acknowledged": len(report.task_ids), "failed": len(report.failed),
            "unknown": len(report.unknown), "client_rate_limited": report.rate_limited,
            "waits": waits, "send_failures": failures}


def run_mixed(quick: bool) -> dict[str, Any]:
    """One run: the lean emulator, the worker in a fresh interpreter, the emulator's stats."""
    size, limits = SIZES[quick], QUICK if quick else STANDARD
    with LeanServer(users=size + PEOPLE, limits=limits, core=0) as server:
        cmd = [*cpu_pin(1), sys.executable, "-m", "benchmarks.mixed", "--worker", server.url,
               str(size), *(["--quick"] if quick else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        if proc.returncode != 0:
            return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        row: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        stats = server.stats()
    calls = -(-size // 100)
    waits = sorted(row.pop("waits"))
    row.update(
        size=size, limits=limits, sends=len(waits),
        wait_p50=_pct(waits, 50), wait_p99=_pct(waits, 99), wait_max=waits[-1] if waits else 0,
        floor_share=floor_seconds(calls, share(limits, RESERVE), recipients=size),
        floor_all=floor_seconds(calls, limits, recipients=size),
        rate_limit_answers=sum(stats.throttled.values()),
        throttled_by_code=stats.throttled, undelivered=stats.undelivered,
        server_sends=stats.counts.get(SEND, 0))
    return row


def _pct(ordered: list[float], pct: int) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] if ordered else 0.0


def markdown(row: dict[str, Any], label: str = "dingnotify") -> list[str]:
    if "error" in row:
        return [f"mixed/{label}: {row['error']}"]
    ratio = row["broadcast_s"] / row["floor_share"] if row["floor_share"] else 0.0
    return [
        "| revision | userids | interactive sends | slot wait p50 / p99 / max s | broadcast s "
        "| floor on bulk's share s (x) | floor on all s | rate-limit answers | undelivered "
        "| failed batches | failed sends |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {label} | {row['size']:,} | {row['sends']} | {row['wait_p50']:.3f} / "
        f"{row['wait_p99']:.3f} / {row['wait_max']:.3f} | {row['broadcast_s']:.1f} | "
        f"{row['floor_share']:.1f} ({ratio:.3f}x) | {row['floor_all']:.1f} | "
        f"{row['rate_limit_answers']} | {row['undelivered']} | {row['failed']} | "
        f"{len(row['send_failures'])} |",
    ]


def targets(row: dict[str, Any]) -> list[str]:
    """One line per target of issue 21, met or MISSED (``--quick`` figures mean little)."""
    if "error" in row:
        return [f"MISSED mixed: {row['error']}"]
    ratio = row["broadcast_s"] / row["floor_share"] if row["floor_share"] else 0.0
    checks = [
        ("mixed: interactive slot wait p99", row["wait_p99"] <= TARGET_P99,
         f"{row['wait_p99']:.3f}s (<= {TARGET_P99}s)"),
        ("mixed: broadcast vs the floor of its share", ratio <= TARGET_FLOOR,
         f"{row['broadcast_s']:.1f}s vs {row['floor_share']:.1f}s ({ratio:.3f}x, "
         f"<= {TARGET_FLOOR}x)"),
        ("mixed: rate-limit answers and undelivered",
         row["rate_limit_answers"] == 0 and row["undelivered"] == 0 and not row["failed"]
         and not row["unknown"] and not row["send_failures"],
         f"{row['rate_limit_answers']} answers, {row['undelivered']} undelivered, "
         f"{row['failed']} failed / {row['unknown']} unknown batches, "
         f"{len(row['send_failures'])} failed sends"),
    ]
    return [f"{'met   ' if ok else 'MISSED'} {name}: {detail}" for name, ok, detail in checks]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mixed", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small shape, in seconds")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--label", default="dingnotify", help="the revision's name in the table")
    parser.add_argument("--worker", nargs=2, metavar=("URL", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        url, size = args.worker
        print(json.dumps(asyncio.run(worker(url, int(size), args.quick))))
        return 0
    row = run_mixed(args.quick)
    print("\n".join([*markdown(row, args.label), "", *targets(row)]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(row, fh, indent=1)
    return 0 if "error" not in row else 1


if __name__ == "__main__":
    sys.exit(main())
