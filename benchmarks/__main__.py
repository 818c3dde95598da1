"""``python -m benchmarks [--quick] [--json out.json] [--png chart.png]``.

Every scenario runs every contender in the same invocation, interleaved (A B C A B C ...),
each run in a fresh interpreter pinned to core 1 while the lean emulator serves from core 0.
Figures are medians; ratios compare to the raw-aiohttp ceiling, because these 2-core
machines drift 10-30 % between invocations. Throughput scenarios run the client with
``quota=None`` on an ``unlimited`` emulator; the quota-bound ones give the emulator and the
client the same budgets (``RateLimits`` / ``Quota``) and compare the elapsed time with the
floor those budgets allow (one repetition: they are bound by pacing, not by CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

from dingnotify import batch_count

from . import mixed
from ._encoding import encoding_rows
from ._report import ROBOT_PER_CALL, chart, markdown, targets
from ._server import LeanServer, cpu_pin

FULL = {"broadcast": 100_000, "quota": 100_000, "quota-calls": 300_000,
        "quota-recipients": 20_000, "web": 10_000, "storm": 1_000, "memory": 1_000_000,
        "robot": 100_000}
QUICK = {"broadcast": 5_000, "quota": 6_000, "quota-calls": 12_000, "quota-recipients": 2_500,
         "web": 1_000, "storm": 300, "memory": 50_000, "robot": 5_000}
CONTENDERS = {
    "broadcast": ["ceiling", "dingnotify", "peer-seq", "peer-16", "peer-64"],
    "quota": ["dingnotify", "quota-off"],
    "quota-calls": ["dingnotify", "quota-off"],
    "quota-recipients": ["dingnotify", "quota-off"],
    "web": ["ceiling", "dingnotify", "peer-64"],
    "storm": ["dingnotify", "peer-64"],
    "memory": ["dingnotify"],
    "robot": ["dingnotify", "work-notice", "alisdk"],
}
# The emulator's RateLimits for the quota-bound scenarios; the client's Quota is the same
# (``quota_for``). Professional (40 QPS, 1,500 calls a minute) with the recipients budget
# raised so the call limits bind; standard (20 QPS, 5,000 recipients a minute, 5,000 calls
# a month) as is. --quick keeps the shapes with budgets small enough to finish in seconds;
# its workloads stay below the minute's budgets (crossing one takes 60 s).
IP_RULE = {"ip_calls_per_window": 10_000}
PROFESSIONAL_WIDE = {"qps": 40, "per_minute": 1500, "recipients_per_minute": 300_000, **IP_RULE}
STANDARD = {"qps": 20, "per_minute": 1500, "recipients_per_minute": 5000,
            "monthly_calls": 5000, **IP_RULE}
LIMITS: dict[str, dict[str, Any]] = {
    "quota": PROFESSIONAL_WIDE, "quota-calls": PROFESSIONAL_WIDE, "quota-recipients": STANDARD}
QUICK_LIMITS: dict[str, dict[str, Any]] = {
    "quota": PROFESSIONAL_WIDE,
    "quota-calls": {"qps": 40, "per_minute": 150, "recipients_per_minute": 15_000, **IP_RULE},
    "quota-recipients": {"qps": 20, "per_minute": 1500, "recipients_per_minute": 3000,
                         **IP_RULE},
}
SEND = "/topapi/message/corpconversation/asyncsend_v2"
RESULT = "/topapi/message/corpconversation/getsendresult"
PROGRESS = "/topapi/message/corpconversation/getsendprogress"
BATCH_SEND = "/v1.0/robot/oToMessages/batchSend"
RUN_TIMEOUT = 600
STAGGER = 0.5
EXTRA = ("send_wall", "wait_wall", "tasks", "failed", "unknown", "rate_limited",
         "seen_throttled", "recipients", "undelivered", "result_calls", "progress_calls",
         "batch_sends")


def quota_for(limits: dict[str, Any]) -> dict[str, Any]:
    """The client ``Quota`` fields matching the emulator's ``RateLimits`` fields."""
    return {"qps": limits["qps"], "calls_per_minute": limits["per_minute"],
            "recipients_per_minute": limits["recipients_per_minute"]}


def have_peer() -> bool:
    try:
        import dingtalk  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
    except Exception:
        return False
    return True


def alisdk_python(given: str | None) -> str | None:
    """An interpreter that can import the official SDK: ``--alisdk-python``, or this one."""
    for python in ([given] if given else [sys.executable]):
        probe = subprocess.run([python, "-c", "import alibabacloud_dingtalk.robot_1_0"],
                               capture_output=True, timeout=60)
        if probe.returncode == 0:
            return python
    return None


class Run:
    """One contender's run in a fresh interpreter against ``server``; ``finish`` reads it."""

    def __init__(self, server: LeanServer, scenario: str, contender: str, size: int,
                 params: dict[str, Any], alisdk: str | None = None) -> None:
        server.reset()
        self.server = server
        self.contender = contender
        self.cpu_before = server.stats().cpu_seconds
        if contender == "alisdk":
            cmd = [*cpu_pin(1), alisdk or sys.executable, "-m", "benchmarks._alisdk",
                   server.url, str(size), server.robot_code]
        else:
            cmd = [*cpu_pin(1), sys.executable, "-m", "benchmarks._worker", scenario,
                   contender, server.url, str(size),
                   json.dumps({**params, "robot_code": server.robot_code})]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)

    def finish(self) -> dict[str, Any]:
        """Wait for the run (concurrent runs print one short line each, so pipes suffice)."""
        left = max(1.0, RUN_TIMEOUT - (time.monotonic() - self.started))
        try:
            stdout, stderr = self.proc.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            stdout, stderr = self.proc.communicate(timeout=10)
        stats = self.server.stats()
        if self.proc.returncode != 0:
            return {"error": stderr.strip().splitlines()[-1] if stderr.strip() else "failed"}
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        result["gettoken"] = stats.counts.get("/gettoken", 0) + \
            stats.counts.get("/v1.0/oauth2/accessToken", 0)
        result["sends"] = stats.counts.get(SEND, 0)
        result["batch_sends"] = stats.counts.get(BATCH_SEND, 0)
        result["result_calls"] = stats.counts.get(RESULT, 0)
        result["progress_calls"] = stats.counts.get(PROGRESS, 0)
        result["throttled"] = sum(stats.throttled.values())
        result["throttled_by_code"] = stats.throttled
        result["undelivered"] = stats.undelivered
        result["server_cpu"] = stats.cpu_seconds - self.cpu_before
        return result


def run_one(server: LeanServer, scenario: str, contender: str, size: int,
            params: dict[str, Any], alisdk: str | None = None) -> dict[str, Any]:
    return Run(server, scenario, contender, size, params, alisdk).finish()


def run_quota_bound(names: list[str], sizes: dict[str, int], limits: dict[str, Any]
                    ) -> dict[str, dict[str, Any]]:
    """The quota-bound runs, each contender with its own emulator (its own app budgets).

    Every paced ``dingnotify`` run starts at once (at most 40 calls/s each, so they can
    share the machine); the ``quota-off`` runs start when all but the last paced run have
    finished. A quota-off run's storm of rejected calls must not meet a paced run's steady
    bursts (a client starved of CPU for 30 ms sends a burst late and draws 90018); the last
    paced run (the recipients-bound one) sends only a few seconds a minute. One after the
    other the runs would take ~9 minutes; this way ~3.5. Servers are up before their runs
    start, and runs start ``STAGGER`` seconds apart so no interpreter start-up meets
    another's first burst."""
    out: dict[str, dict[str, Any]] = {name: {} for name in names}

    def start(stack: contextlib.ExitStack, contender: str) -> list[tuple[str, Run]]:
        phase = [n for n in names if contender in CONTENDERS[n]]
        servers = [stack.enter_context(LeanServer(users=sizes[n], limits=limits[n], core=0))
                   for n in phase]
        runs = []
        for name, server in zip(phase, servers, strict=True):
            runs.append((name, Run(server, name, contender, sizes[name],
                                   {"quota": quota_for(limits[name])})))
            time.sleep(STAGGER)
        return runs

    with contextlib.ExitStack() as stack:
        paced = start(stack, "dingnotify")
        deadline = time.monotonic() + RUN_TIMEOUT
        while sum(run.proc.poll() is None for _, run in paced) > 1 and \
                time.monotonic() < deadline:
            time.sleep(0.5)
        unpaced = start(stack, "quota-off")
        for name, run in paced + unpaced:
            out[name][run.contender] = summarize([run.finish()])
    return out


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0].get("error", "failed"), "runs": len(runs)}
    med = {k: statistics.median(r[k] for r in ok)
           for k in ("wall", "cpu", "rss_mb", "requests", "server_cpu")}
    out: dict[str, Any] = {**med, "runs": len(ok), "failed_runs": len(runs) - len(ok)}
    out["req_per_s"] = med["requests"] / med["wall"]
    out["cpu_us_per_req"] = med["cpu"] / med["requests"] * 1e6
    out["server_cpu_us_per_req"] = med["server_cpu"] / med["requests"] * 1e6
    out["gettoken"] = max(r["gettoken"] for r in ok)
    out["sends"] = [r["sends"] for r in ok]
    out["throttled"] = max(r["throttled"] for r in ok)
    out["throttled_by_code"] = ok[-1]["throttled_by_code"]
    for key in EXTRA:
        if key in ok[0]:
            out[key] = statistics.median(r[key] for r in ok)
    if "latencies" in ok[0]:
        out["p50_ms"] = statistics.median(_pct(r["latencies"], 50) for r in ok) * 1e3
        out["p99_ms"] = statistics.median(_pct(r["latencies"], 99) for r in ok) * 1e3
    return out


def _pct(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--reps", type=int, help="repetitions per contender (default 3)")
    parser.add_argument("--json", metavar="FILE", help="write all figures as JSON")
    parser.add_argument("--png", metavar="FILE",
                        help="chart of the broadcast, quota-bound and robot scenarios")
    parser.add_argument("--only", nargs="*", choices=[*CONTENDERS, "encoding", "mixed"])
    parser.add_argument("--alisdk-python", metavar="PYTHON",
                        help="an interpreter with alibabacloud-dingtalk installed (robot "
                             "scenario; default: this one, if it can import the SDK)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    limits = QUICK_LIMITS if args.quick else LIMITS
    reps = args.reps or (1 if args.quick else 3)
    peer = have_peer()
    if not peer:
        print("note: dingtalk-sdk not installed (pip install -e . --group bench): "
              "peer rows skipped")
    wanted = set(args.only) if args.only else None
    alisdk = alisdk_python(args.alisdk_python) if not wanted or "robot" in wanted else None
    if alisdk is None:
        print("note: alibabacloud-dingtalk not importable (see benchmarks/README.md, "
              "--alisdk-python): its robot row skipped")
    started = time.monotonic()
    results: dict[str, Any] = {"machine": f"{platform.machine()} {os.cpu_count()} cores, "
                               f"Python {platform.python_version()}",
                               "date": time.strftime("%Y-%m-%d"), "quick": args.quick,
                               "sizes": sizes, "reps": reps, "limits": limits,
                               "scenarios": {}}
    for scenario, contenders in CONTENDERS.items():
        if wanted and scenario not in wanted:
            continue
        if scenario in limits:  # the first one runs them all, side by side
            names = [n for n in limits if (not wanted or n in wanted) and
                     n not in results["scenarios"]]
            if names:
                results["scenarios"].update(run_quota_bound(names, sizes, limits))
                print(f"[{time.monotonic() - started:5.1f}s] {', '.join(names)} done",
                      flush=True)
                save(results, args.json)
            continue
        contenders = [c for c in contenders if (peer or not c.startswith("peer")) and
                      (alisdk or c != "alisdk")]
        users = sizes[scenario] if scenario == "robot" else min(sizes[scenario], 100_000)
        with LeanServer(users=users, core=0) as server:
            runs: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
            for _ in range(reps):
                for contender in contenders:  # interleaved: A B C A B C
                    runs[contender].append(run_one(server, scenario, contender,
                                                   sizes[scenario], {}, alisdk))
        results["scenarios"][scenario] = {c: summarize(r) for c, r in runs.items()}
        print(f"[{time.monotonic() - started:5.1f}s] {scenario} done", flush=True)
        save(results, args.json)
    if not wanted or "encoding" in wanted:
        results["encoding"] = encoding_rows(20_000 if args.quick else 200_000)
    if not wanted or "mixed" in wanted:  # people beside a broadcast: benchmarks/mixed.py
        results["mixed"] = mixed.run_mixed(args.quick)
        print(f"[{time.monotonic() - started:5.1f}s] mixed done", flush=True)
    results["targets"] = targets(results) + (
        mixed.targets(results["mixed"]) if "mixed" in results else [])
    results["elapsed"] = time.monotonic() - started
    print(markdown(results))
    if "mixed" in results:
        print("\n".join(mixed.markdown(results["mixed"])))
    save(results, args.json)
    if args.png:
        print(chart(results, args.png))
    return check_counts(results)


def save(results: dict[str, Any], path: str | None) -> None:
    """Write the figures so far (after every scenario, so a crash keeps what ran)."""
    if path:
        with open(path, "w") as fh:
            json.dump(results, fh, indent=1)


def check_counts(results: dict[str, Any]) -> int:
    """Smoke check: every contender completed and the server saw the calls it should."""
    bad = []
    sizes = results["sizes"]
    for scenario, rows in results["scenarios"].items():
        for contender, row in rows.items():
            if "error" in row or row.get("failed_runs"):
                bad.append(f"{scenario}/{contender}: {row.get('error', 'a run failed')}")
                continue
            expected = batch_count(sizes[scenario], 0)
            sends = row["sends"]
            if scenario == "robot" and contender != "work-notice":
                expected, sends = -(-sizes[scenario] // ROBOT_PER_CALL), [row["batch_sends"]]
            counted = scenario in ("broadcast", "memory", "robot") or (
                scenario in results["limits"] and contender == "dingnotify")
            if counted and any(s < expected for s in sends):
                bad.append(f"{scenario}/{contender}: sends {sends} < {expected}")
    row = results.get("mixed", {})
    if "error" in row or row.get("failed") or row.get("unknown") or row.get("send_failures"):
        bad.append(f"mixed: {row.get('error') or 'batches or sends failed'}")
    for line in bad:
        print("FAILED:", line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
