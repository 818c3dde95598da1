"""``python -m benchmarks.mixed [--quick] [--redis] [--json FILE]``: people beside a
broadcast (issue 21).

One client on the standard profile (``Quota.standard()``, the emulator's limits) runs a
broadcast that saturates the recipients budget while the same client sends one
interactive one-recipient ``work_notice.send`` every ``INTERVAL`` seconds, until the
broadcast ends. ``--redis``: the broadcast and the people run in two processes, each with
its own client on one ``RedisCoordination`` namespace of a private ``redis-server``.
Reported: each interactive send's **slot wait** (from the call to its request leaving,
read by a transport wrapper), the broadcast's elapsed time against the floor of its share
of the budgets (``1 - interactive_reserve`` of each) and of the whole budgets, the
emulator's rate-limit answers and undelivered recipients.

The lean emulator (and Redis) serve from core 0 in their own processes, the clients run in
fresh interpreters pinned to core 1 (``python -m benchmarks.mixed --worker URL SIZE``), as in
``python -m benchmarks``. The script uses only names that existed before issue 21 (no
``priority=``: the defaults say who waits), so the same file measures an older revision
from its checkout: ``cd /tmp/before && python -m benchmarks.mixed``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

from ._report import RESERVE, floor_seconds, share
from ._server import LeanServer, cpu_pin, redis_server

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
LATE = 0.1
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


def _client(url: str, quick: bool, redis: tuple[str, str] | None) -> tuple[Any, Any]:
    """A client on the standard profile's quota, and its coordination on Redis (URL,
    namespace) when given."""
    import dingnotify
    from dingnotify import Quota

    from ._contenders import AGENT_ID, APP_KEY, APP_SECRET

    quota = Quota(recipients_per_minute=QUICK["recipients_per_minute"]) if quick \
        else Quota.standard()
    coordination = None
    if redis is not None:
        from dingnotify.redis import RedisCoordination

        coordination = RedisCoordination.from_url(redis[0], namespace=redis[1], processes=2)
    return dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=AGENT_ID, base_url=url,
                                     quota=quota, transport=Stamped(),
                                     coordination=coordination), coordination


async def _bulk(client: Any, size: int) -> dict[str, Any]:
    """The broadcast: its elapsed time and how its batches ended."""
    from ._contenders import CONCURRENCY, MESSAGE, userids

    started = time.perf_counter()
    report = await client.work_notice.broadcast(MESSAGE, userids=list(userids(size)),
                                                concurrency=CONCURRENCY)
    return {"broadcast_s": time.perf_counter() - started, "batches": len(report.batches),
            "acknowledged": len(report.task_ids), "failed": len(report.failed),
            "unknown": len(report.unknown), "client_rate_limited": report.rate_limited}


async def _people(client: Any, size: int, done: asyncio.Event) -> dict[str, Any]:
    """One interactive send every ``INTERVAL`` seconds until ``done``: their slot waits,
    and when (seconds from the first) each send that waited over ``LATE`` was made."""
    import dingnotify
    from dingnotify import Text

    waits: list[float] = []
    late: list[tuple[float, float]] = []
    failures: list[str] = []
    first = time.perf_counter()

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
        if waits[-1] > LATE:
            late.append((round(started - first, 3), round(waits[-1], 3)))

    tasks = []
    for i in range(size + 1, size + PEOPLE + 1):
        if done.is_set():
            break
        tasks.append(asyncio.ensure_future(person(f"u{i:06d}")))
        await asyncio.sleep(INTERVAL)
    await asyncio.gather(*tasks)
    return {"waits": waits, "late_sends": late, "send_failures": failures}


async def _line() -> str:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


async def worker(url: str, size: int, quick: bool, role: str = "both",
                 redis: tuple[str, str] | None = None) -> dict[str, Any]:
    """``both``: the broadcast and the people on one client. ``bulk`` / ``people``: one of
    them, in a process of its own on Redis; it says ``ready`` and starts at ``go``, and the
    people stop at ``stop`` (both read from stdin)."""
    client, coordination = _client(url, quick, redis)
    done = asyncio.Event()
    try:
        async with client:
            await client.get_access_token()
            if role != "both":
                print("ready", flush=True)
                await _line()
            started = time.perf_counter()
            if role == "bulk":
                return await _bulk(client, size)
            people = asyncio.ensure_future(_people(client, size, done))
            row = await _bulk(client, size) if role == "both" else {}
            if role == "people":
                await _line()
            if quick:
                await asyncio.sleep(max(0.0, started + QUICK_SECONDS - time.perf_counter()))
            done.set()
            return {**row, **await people}
    finally:
        if coordination is not None:
            await coordination.aclose()


def _run_alone(cmd: list[str]) -> dict[str, Any]:
    """The same-client case: one worker process."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    row: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return row


def _run_shared(cmd: list[str], redis_url: str) -> dict[str, Any]:
    """The Redis case: the broadcast and the people in two processes on one namespace,
    started together once both have their token."""
    cmd = [*cmd, "--shared", redis_url, uuid.uuid4().hex]
    with tempfile.TemporaryFile("w+") as errors:
        procs = {role: subprocess.Popen([*cmd, "--role", role], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=errors, text=True)
                 for role in ("bulk", "people")}
        try:
            outs = {}
            if all(_said(p, "ready") for p in procs.values()):
                for proc in procs.values():
                    proc.stdin.write("go\n")  # type: ignore[union-attr]
                    proc.stdin.flush()  # type: ignore[union-attr]
                outs["bulk"] = procs["bulk"].communicate(timeout=RUN_TIMEOUT)[0]
                outs["people"] = procs["people"].communicate("stop\n", timeout=60)[0]
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
        if len(outs) < 2 or any(p.returncode != 0 for p in procs.values()):
            errors.seek(0)
            return {"error": (errors.read().strip().splitlines() or ["failed"])[-1]}
    rows = [json.loads(out.strip().splitlines()[-1]) for out in outs.values()]
    return {**rows[0], **rows[1]}


def _said(proc: subprocess.Popen[str], word: str) -> bool:
    assert proc.stdout is not None
    return proc.stdout.readline().strip() == word


def run_mixed(quick: bool, redis: bool = False) -> dict[str, Any]:
    """One run: the lean emulator, the worker(s) in fresh interpreters (two sharing a
    private ``redis-server`` with ``redis``), the emulator's stats."""
    size, limits = SIZES[quick], QUICK if quick else STANDARD
    with LeanServer(users=size + PEOPLE, limits=limits, core=0) as server, \
            redis_server() if redis else contextlib.nullcontext("") as redis_url:
        cmd = [*cpu_pin(1), sys.executable, "-m", "benchmarks.mixed", "--worker", server.url,
               str(size), *(["--quick"] if quick else [])]
        row = _run_shared(cmd, redis_url) if redis else _run_alone(cmd)
        if "error" in row:
            return {**row, "redis": redis}
        stats = server.stats()
    calls = -(-size // 100)
    waits = sorted(row.pop("waits"))
    row.update(
        size=size, limits=limits, redis=redis, sends=len(waits),
        wait_p50=_pct(waits, 50), wait_p99=_pct(waits, 99), wait_max=waits[-1] if waits else 0,
        floor_share=floor_seconds(calls, share(limits, RESERVE), recipients=size),
        floor_all=floor_seconds(calls, limits, recipients=size),
        rate_limit_answers=sum(stats.throttled.values()),
        throttled_by_code=stats.throttled, undelivered=stats.undelivered,
        server_sends=stats.counts.get(SEND, 0))
    return row


def _pct(ordered: list[float], pct: int) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] if ordered else 0.0


def _name(row: dict[str, Any]) -> str:
    return "mixed on Redis" if row.get("redis") else "mixed"


def markdown(row: dict[str, Any], label: str = "dingnotify") -> list[str]:
    if "error" in row:
        return [f"{_name(row)}/{label}: {row['error']}"]
    if row["redis"]:
        label += ", Redis: 2 processes"
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
        return [f"MISSED {_name(row)}: {row['error']}"]
    ratio = row["broadcast_s"] / row["floor_share"] if row["floor_share"] else 0.0
    checks = [
        (": interactive slot wait p99", row["wait_p99"] <= TARGET_P99,
         f"{row['wait_p99']:.3f}s (<= {TARGET_P99}s)"),
        (": broadcast vs the floor of its share", ratio <= TARGET_FLOOR,
         f"{row['broadcast_s']:.1f}s vs {row['floor_share']:.1f}s ({ratio:.3f}x, "
         f"<= {TARGET_FLOOR}x)"),
        (": rate-limit answers and undelivered",
         row["rate_limit_answers"] == 0 and row["undelivered"] == 0 and not row["failed"]
         and not row["unknown"] and not row["send_failures"],
         f"{row['rate_limit_answers']} answers, {row['undelivered']} undelivered, "
         f"{row['failed']} failed / {row['unknown']} unknown batches, "
         f"{len(row['send_failures'])} failed sends"),
    ]
    return [f"{'met   ' if ok else 'MISSED'} {_name(row)}{name}: {detail}"
            for name, ok, detail in checks]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mixed", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small shape, in seconds")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--label", default="dingnotify", help="the revision's name in the table")
    parser.add_argument("--redis", action="store_true",
                        help="the broadcast and the people in two processes sharing a "
                             "private redis-server (started on a free port)")
    parser.add_argument("--shared", nargs=2, metavar=("REDIS_URL", "NAMESPACE"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("URL", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--role", default="both", choices=("both", "bulk", "people"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        url, size = args.worker
        redis = tuple(args.shared) if args.shared else None
        print(json.dumps(asyncio.run(worker(url, int(size), args.quick, args.role, redis))))
        return 0
    row = run_mixed(args.quick, args.redis)
    print("\n".join([*markdown(row, args.label), "", *targets(row)]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(row, fh, indent=1)
    return 0 if "error" not in row else 1


if __name__ == "__main__":
    sys.exit(main())
