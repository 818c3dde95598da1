"""``python -m benchmarks [--quick] [--json out.json] [--png chart.png]``.

Every scenario runs every contender in the same invocation, interleaved (A B C A B C ...),
each run in a fresh interpreter pinned to core 1 while the lean emulator serves from core 0.
Figures are medians; ratios compare to the raw-aiohttp ceiling, because these 2-core
machines drift 10-30 % between invocations.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

from dingnotify.broadcast import batch_count

from ._encoding import encoding_rows
from ._report import chart, markdown, targets
from ._server import LeanServer, cpu_pin

FULL = {"broadcast": 100_000, "quota": 100_000, "web": 10_000, "storm": 1_000,
        "memory": 1_000_000}
QUICK = {"broadcast": 5_000, "quota": 2_000, "web": 1_000, "storm": 300, "memory": 50_000}
CONTENDERS = {
    "broadcast": ["ceiling", "dingnotify", "peer-seq", "peer-16", "peer-64"],
    "quota": ["dingnotify", "dingnotify-unpaced"],
    "web": ["ceiling", "dingnotify", "peer-64"],
    "storm": ["dingnotify", "peer-64"],
    "memory": ["dingnotify"],
}
PROFILE = {"quota": "realistic"}
RUN_TIMEOUT = 600


def have_peer() -> bool:
    try:
        import dingtalk  # type: ignore[import-not-found]  # noqa: F401
    except Exception:
        return False
    return True


def run_one(server: LeanServer, scenario: str, contender: str, size: int) -> dict[str, Any]:
    server.reset()
    cpu_before = server.stats().cpu_seconds
    cmd = [*cpu_pin(1), sys.executable, "-m", "benchmarks._worker", scenario, contender,
           server.url, str(size)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    stats = server.stats()
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["gettoken"] = stats.counts.get("/gettoken", 0)
    result["sends"] = stats.counts.get("/topapi/message/corpconversation/asyncsend_v2", 0)
    result["throttled"] = sum(stats.throttled.values())
    result["server_cpu"] = stats.cpu_seconds - cpu_before
    return result


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
    parser.add_argument("--png", metavar="FILE", help="chart of scenarios 1 and 2")
    parser.add_argument("--only", nargs="*", choices=[*CONTENDERS, "encoding"])
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    reps = args.reps or (1 if args.quick else 3)
    peer = have_peer()
    if not peer:
        print("note: dingtalk-sdk not installed (pip install '.[bench]'): peer rows skipped")
    started = time.monotonic()
    results: dict[str, Any] = {"machine": f"{platform.machine()} {os.cpu_count()} cores, "
                               f"Python {platform.python_version()}",
                               "date": time.strftime("%Y-%m-%d"), "quick": args.quick,
                               "sizes": sizes, "reps": reps, "scenarios": {}}
    for scenario, contenders in CONTENDERS.items():
        if args.only and scenario not in args.only:
            continue
        contenders = [c for c in contenders if peer or not c.startswith("peer")]
        profile = PROFILE.get(scenario, "unlimited")
        users = min(sizes[scenario], 100_000)
        with LeanServer(users=users, profile=profile, core=0) as server:
            runs: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
            for _ in range(reps):
                for contender in contenders:  # interleaved: A B C A B C
                    runs[contender].append(run_one(server, scenario, contender,
                                                   sizes[scenario]))
        results["scenarios"][scenario] = {c: summarize(r) for c, r in runs.items()}
        print(f"[{time.monotonic() - started:5.1f}s] {scenario} done", flush=True)
    if not args.only or "encoding" in args.only:
        results["encoding"] = encoding_rows(20_000 if args.quick else 200_000)
    results["targets"] = targets(results)
    results["elapsed"] = time.monotonic() - started
    print(markdown(results))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    if args.png:
        print(chart(results, args.png))
    return check_counts(results)


def check_counts(results: dict[str, Any]) -> int:
    """Smoke check: every contender completed and the server saw the calls it should."""
    bad = []
    sizes = results["sizes"]
    for scenario, rows in results["scenarios"].items():
        for contender, row in rows.items():
            if "error" in row or row.get("failed_runs"):
                bad.append(f"{scenario}/{contender}: {row.get('error', 'a run failed')}")
                continue
            if scenario in ("broadcast", "memory", "quota"):
                expected = batch_count(sizes[scenario], 0)
                if any(s < expected for s in row["sends"]):
                    bad.append(f"{scenario}/{contender}: sends {row['sends']} < {expected}")
    for line in bad:
        print("FAILED:", line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
