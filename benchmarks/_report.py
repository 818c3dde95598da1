"""Tables, target checks and the chart."""

from __future__ import annotations

import math
from typing import Any

from dingnotify import batch_count

TARGETS = (
    "dingnotify >= 0.9x ceiling req/s; <= 1.15x its CPU per request; >= 4x the peer's best",
    "quota-bound broadcasts within 1.02x the floor of all limits, zero rate-limit answers, "
    "zero undelivered; wait <= 1.1 calls per userid-only task",
    "web p99 <= 1.2x the ceiling's; exactly 1 /gettoken in every scenario",
    "peak RSS <= 120 MB for 1,000,000 userids; encoding >= 5x json.dumps",
)
USERIDS_PER_CALL = 100
ROBOT_PER_CALL = 20
QUOTA_TARGET = 1.02
QUOTA_TARGETS = {"quota": 1.05}
"""Scenario 2 is bound by QPS alone, where each one-second window costs one round trip as
well: a slot counts until its call's answer (the price of windows no jitter can fool),
a few per cent of a second when the machine is busy."""
RESERVE = 0.1
"""``Quota.interactive_reserve`` of the clients: a broadcast is bulk work, so its floor is
that of its share of the budgets."""


def floor_seconds(calls: int, limits: dict[str, Any], per_call: int = USERIDS_PER_CALL,
                  recipients: int | None = None) -> float:
    """The least time ``calls`` sends can take under every limit the emulator enforces.

    The earliest schedule the emulator's sliding windows admit (greedy is optimal for them):
    call ``i`` goes at the first instant when the last second holds fewer than ``qps``
    calls, the last minute fewer than ``per_minute`` calls and at most
    ``recipients_per_minute`` recipients with its own. The floor is the last call's
    instant, so bursts of ``qps`` calls at once count in the floor's favour: e.g. 3,000
    calls at 40 QPS and 1,500 a minute -> 60 + 37 = 97 s (the rate-based estimate
    60 + 1,500 / 40 gives 97.5 s); 200 calls of 100 userids at 20 QPS and 5,000 recipients
    a minute -> 3 x 60 + 2 = 182 s.
    """
    qps, per_minute = int(limits["qps"]), int(limits["per_minute"])
    budget = int(limits["recipients_per_minute"])
    total = recipients if recipients is not None else calls * per_call
    sizes = [min(per_call, total - i * per_call) for i in range(calls)]
    times: list[float] = []
    first_in_window, in_window = 0, 0  # the recipients' window: calls first_in_window..i-1
    for i, size in enumerate(sizes):
        t = times[-1] if times else 0.0
        if i >= qps:
            t = max(t, times[i - qps] + 1.0)
        if i >= per_minute:
            t = max(t, times[i - per_minute] + 60.0)
        while first_in_window < i and (times[first_in_window] <= t - 60.0 or
                                       in_window + size > budget):
            # left the minute already, or must leave it before this call fits
            t = max(t, times[first_in_window] + 60.0)
            in_window -= sizes[first_in_window]
            first_in_window += 1
        times.append(t)
        in_window += size
    return times[-1] if times else 0.0


def share(limits: dict[str, Any], reserve: float = RESERVE) -> dict[str, Any]:
    """The budgets bulk work may fill (``Quota.allowed`` of each)."""
    return {key: max(1, math.floor(limits[key] * (1 - reserve) + 1e-6))
            for key in ("qps", "per_minute", "recipients_per_minute")}


def quota_floor(results: dict[str, Any], scenario: str) -> float:
    """The floor of a quota-bound broadcast: its share of the budgets."""
    size = results["sizes"][scenario]
    return floor_seconds(batch_count(size, 0), share(results["limits"][scenario]),
                         recipients=size)


def calls_per_task(row: dict[str, Any]) -> float | None:
    """``wait``'s result and progress calls per task (None when it did not run)."""
    if "wait_wall" not in row or not row.get("tasks"):
        return None
    return float((row["result_calls"] + row["progress_calls"]) / row["tasks"])


def targets(results: dict[str, Any]) -> list[str]:
    """One line per target: met or MISSED, with the figures behind it."""
    s = results["scenarios"]
    out: list[str] = []

    def check(name: str, ok: bool, detail: str) -> None:
        out.append(f"{'met   ' if ok else 'MISSED'} {name}: {detail}")

    bc = s.get("broadcast", {})
    if "dingnotify" in bc and "ceiling" in bc and "error" not in bc["dingnotify"]:
        d, c = bc["dingnotify"], bc["ceiling"]
        check("req/s vs ceiling", d["req_per_s"] >= 0.9 * c["req_per_s"],
              f"{d['req_per_s'] / c['req_per_s']:.2f}x")
        check("CPU/request vs ceiling", d["cpu_us_per_req"] <= 1.15 * c["cpu_us_per_req"],
              f"{d['cpu_us_per_req'] / c['cpu_us_per_req']:.2f}x")
        peers = [v["req_per_s"] for k, v in bc.items() if k.startswith("peer") and "error" not in v]
        if peers:
            check("req/s vs best peer", d["req_per_s"] >= 4 * max(peers),
                  f"{d['req_per_s'] / max(peers):.1f}x")
    for scenario in results.get("limits", {}):
        quota = s.get(scenario, {}).get("dingnotify")
        if not quota or "error" in quota:
            continue
        floor = quota_floor(results, scenario)
        ratio = quota["send_wall"] / floor if floor > 0 else 0.0  # 0: one burst suffices
        target = QUOTA_TARGETS.get(scenario, QUOTA_TARGET)
        check(f"{scenario}: time vs floor (<= {target}x)",
              ratio <= target and quota["throttled"] == 0 and quota["undelivered"] == 0
              and not quota["failed"],
              f"{quota['send_wall']:.2f}s vs floor {floor:.2f}s ({ratio:.3f}x), "
              f"{quota['throttled']} rate-limit answers, {quota['undelivered']:.0f} undelivered")
        per_task = calls_per_task(quota)
        if per_task is not None:
            check(f"{scenario}: wait calls per task", per_task <= 1.1, f"{per_task:.2f}")
    web = s.get("web", {})
    if "dingnotify" in web and "ceiling" in web and "error" not in web["dingnotify"]:
        check("web p99 vs ceiling", web["dingnotify"]["p99_ms"] <= 1.2 * web["ceiling"]["p99_ms"],
              f"{web['dingnotify']['p99_ms']:.1f} ms vs {web['ceiling']['p99_ms']:.1f} ms")
    tokens = {k: v["dingnotify"]["gettoken"] for k, v in s.items()
              if "dingnotify" in v and "error" not in v["dingnotify"]}
    if tokens:
        check("one /gettoken per scenario", all(n == 1 for n in tokens.values()), str(tokens))
    mem = s.get("memory", {}).get("dingnotify")
    if mem and "error" not in mem:
        n = results["sizes"]["memory"]
        check(f"peak RSS for {n:,} userids", mem["rss_mb"] <= 120 or n < 1_000_000,
              f"{mem['rss_mb']:.0f} MB")
    enc = results.get("encoding")
    if enc:
        worst = min(enc.values(), key=lambda r: r["ratio"])
        check("encoding vs json.dumps", worst["ratio"] >= 5, f"worst {worst['ratio']:.1f}x")
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [f"## Benchmarks {results['date']} ({results['machine']}, "
             f"{'quick' if results['quick'] else 'full'}, {results['reps']} rep(s), "
             f"{results.get('elapsed', 0):.0f}s)", ""]
    lines += ["| scenario | contender | wall s | req/s | x ceiling | CPU us/req | server CPU "
              "us/req | peak RSS MB | p50 ms | p99 ms | /gettoken | rate-limit answers |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for scenario, rows in results["scenarios"].items():
        ceiling = rows.get("ceiling", {}).get("req_per_s")
        for contender, r in rows.items():
            if "error" in r:
                lines.append(f"| {scenario} | {contender} | error: {r['error']} |")
                continue
            ratio = f"{r['req_per_s'] / ceiling:.2f}" if ceiling else "-"
            lines.append(
                f"| {scenario} | {contender} | {r['wall']:.2f} | {r['req_per_s']:.0f} | {ratio} "
                f"| {r['cpu_us_per_req']:.0f} | {r['server_cpu_us_per_req']:.0f} "
                f"| {r['rss_mb']:.0f} | {r.get('p50_ms', 0):.1f} | {r.get('p99_ms', 0):.1f} "
                f"| {r['gettoken']} | {r['throttled']} |")
    lines += quota_table(results) + robot_table(results)
    if results.get("encoding"):
        lines += ["", "| message | msgspec us | json.dumps us | ratio |", "|---|---|---|---|"]
        lines += [f"| {k} | {v['msgspec_us']:.2f} | {v['json_us']:.2f} | {v['ratio']:.1f}x |"
                  for k, v in results["encoding"].items()]
    lines += ["", "Targets:"] + [f"- {t}" for t in results.get("targets", [])]
    if results["quick"]:
        lines += ["", "Quick run: the sizes are too small for the speed targets to mean "
                  "anything (fixed costs dominate); it checks that every contender completes "
                  "and the server's counts match. Speed figures come from a full run."]
    return "\n".join(lines)


def quota_table(results: dict[str, Any]) -> list[str]:
    """Quota-bound scenarios: elapsed vs the floor of all limits, what the limits drew."""
    rows = [(n, results["scenarios"][n]) for n in results.get("limits", {})
            if n in results["scenarios"]]
    if not rows:
        return []
    lines = ["", "| scenario | limits (qps / calls a minute / recipients a minute) | contender "
             "| calls | floor s | broadcast s | x floor | rate-limit answers | undelivered "
             "| failed batches | wait s | wait calls/task | throttled seen by wait |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, contenders in rows:
        limits = results["limits"][name]
        shape = f"{limits['qps']} / {limits['per_minute']:,} / {limits['recipients_per_minute']:,}"
        floor = quota_floor(results, name)
        for contender, r in contenders.items():
            if "error" in r:
                lines.append(f"| {name} | {shape} | {contender} | error: {r['error']} |")
                continue
            codes = ", ".join(f"{n} x {c}" for c, n in sorted(r["throttled_by_code"].items()))
            per_task = calls_per_task(r)
            wait = "-" if per_task is None else f"{r['wait_wall']:.1f}"
            seen = "-" if per_task is None else f"{r['seen_throttled']:.0f}"
            times = f"{r['send_wall'] / floor:.3f}" if floor > 0 else "-"
            lines.append(
                f"| {name} | {shape} | {contender} | {r['sends'][0]} | {floor:.1f} "
                f"| {r['send_wall']:.1f} | {times} | {codes or 0} "
                f"| {r['undelivered']:.0f} | {r['failed']:.0f} | {wait} "
                f"| {'-' if per_task is None else f'{per_task:.2f}'} "
                f"| {seen} |")
    return lines


def robot_table(results: dict[str, Any]) -> list[str]:
    """Robot batchSend (20 userids a call) beside asyncsend_v2 (100 a call)."""
    rows = {k: v for k, v in results["scenarios"].get("robot", {}).items() if "error" not in v}
    if not rows:
        return []
    lines = ["", "| robot scenario | API, userids/call | calls | wall s | calls/s | userids/s "
             "| CPU us/call | CPU us/userid | server CPU us/call |",
             "|---|---|---|---|---|---|---|---|---|"]
    n = results["sizes"]["robot"]
    for contender, r in rows.items():
        api = "asyncsend_v2, 100" if contender == "work-notice" else "batchSend, 20"
        lines.append(
            f"| {contender} | {api} | {r['requests']:.0f} | {r['wall']:.2f} "
            f"| {r['req_per_s']:.0f} | {n / r['wall']:.0f} | {r['cpu_us_per_req']:.0f} "
            f"| {r['cpu'] / n * 1e6:.1f} | {r['server_cpu_us_per_req']:.0f} |")
    return lines


def chart(results: dict[str, Any], path: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed (pip install -e . --group bench): no chart"
    s = results["scenarios"]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4))
    bc = {k: v for k, v in s.get("broadcast", {}).items() if "error" not in v}
    left.bar(list(bc), [v["req_per_s"] for v in bc.values()], color="#3b7dd8")
    left.set_title("1. broadcast, quota off: requests/s")
    left.tick_params(axis="x", rotation=30)
    bars = {f"{n}\n{c}": v["send_wall"] / floor for n in results.get("limits", {})
            if (floor := quota_floor(results, n)) > 0
            for c, v in s.get(n, {}).items() if "error" not in v}
    middle.bar(list(bars), list(bars.values()), color="#e07b39")
    middle.axhline(QUOTA_TARGET, color="black", linestyle="--",
                   label=f"target {QUOTA_TARGET}x floor")
    middle.set_title("2. quota-bound broadcasts: time / floor")
    middle.tick_params(axis="x", rotation=30, labelsize=7)
    middle.legend()
    robot = {k: v for k, v in s.get("robot", {}).items() if "error" not in v}
    right.bar(list(robot), [v["cpu_us_per_req"] for v in robot.values()], color="#5aa469")
    right.set_title("7. robot vs work notice: client CPU us per call")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return f"wrote {path}"
