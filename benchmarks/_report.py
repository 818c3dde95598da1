"""Tables, target checks and the chart."""

from __future__ import annotations

from typing import Any

from dingnotify.broadcast import batch_count

TARGETS = (
    "dingnotify >= 0.9x ceiling req/s; <= 1.15x its CPU per request; >= 4x the peer's best",
    "quota-bound broadcast within 1.05x the 40 QPS floor, zero 90018",
    "web p99 <= 1.2x the ceiling's; exactly 1 /gettoken in every scenario",
    "peak RSS <= 120 MB for 1,000,000 userids; encoding >= 5x json.dumps",
)


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
    quota = s.get("quota", {}).get("dingnotify")
    if quota and "error" not in quota:
        floor = batch_count(results["sizes"]["quota"], 0) / 40
        check("quota-bound time vs floor", quota["wall"] <= 1.05 * floor and
              quota["throttled"] == 0,
              f"{quota['wall']:.2f}s vs floor {floor:.2f}s ({quota['wall'] / floor:.3f}x), "
              f"{quota['throttled']} x 90018")
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
              "us/req | peak RSS MB | p50 ms | p99 ms | /gettoken | 90018 |",
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


def chart(results: dict[str, Any], path: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed (pip install '.[bench]'): no chart"
    s = results["scenarios"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    bc = {k: v for k, v in s.get("broadcast", {}).items() if "error" not in v}
    left.bar(list(bc), [v["req_per_s"] for v in bc.values()], color="#3b7dd8")
    left.set_title("1. broadcast, quota off: requests/s")
    left.tick_params(axis="x", rotation=30)
    quota = {k: v for k, v in s.get("quota", {}).items() if "error" not in v}
    floor = batch_count(results["sizes"]["quota"], 0) / 40
    right.bar(list(quota), [v["wall"] for v in quota.values()], color="#e07b39")
    right.axhline(floor, color="black", linestyle="--", label=f"floor {floor:.1f}s (40 QPS)")
    right.set_title("2. quota-bound broadcast: seconds")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return f"wrote {path}"
