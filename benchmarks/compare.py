"""``python -m benchmarks.compare [--rounds N] [--size N] NAME=REV ...``: revisions side by side.

Scenario 1 (broadcast, then a progress poll per task) for several git revisions of
dingnotify in one run, to tell whether a change moved the client's CPU per request. Each
revision is checked out in a temporary worktree and runs with its own package and its own
``benchmarks._worker``; the ceiling runs from this tree. One lean emulator from this tree
serves on core 0; every run is a fresh interpreter on core 1, rounds interleaved
(ceiling, A, B, ...), and ratios are taken against the ceiling of the same round, because
a shared machine drifts more between rounds than the change being measured.

CPU per request (``getrusage`` around the whole run) is comparable across revisions; wall
clock follows each revision's harness (revisions before ``benchmarks.compare`` existed
built the userid list on the clock), so compare requests/s across revisions with care.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from ._server import LeanServer, cpu_pin

HERE = Path(__file__).resolve().parent.parent


def _run(tree: Path, contender: str, url: str, size: int) -> tuple[float, float]:
    """(requests per second, CPU µs per request) of one fresh-interpreter run."""
    out = subprocess.run(
        [*cpu_pin(1), sys.executable, "-m", "benchmarks._worker", "broadcast", contender, url,
         str(size)],
        cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True, text=True,
        check=True, timeout=300,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["requests"] / result["wall"], result["cpu"] / result["requests"] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare",
                                     description=__doc__.split("\n\n")[1])
    parser.add_argument("revisions", nargs="+", metavar="NAME=REV",
                        help="a label and a git revision (commit, branch, tag)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (7)")
    parser.add_argument("--size", type=int, default=100_000, help="userids (100,000)")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 50 or not 100 <= args.size <= 1_000_000:
        parser.error("--rounds must be 1-50 and --size 100-1,000,000")
    labels = [spec.partition("=") for spec in args.revisions]
    if any(not name or not sep or not rev for name, sep, rev in labels):
        parser.error("give each revision as NAME=REV")
    with tempfile.TemporaryDirectory(prefix="dingnotify-compare-") as scratch:
        trees: dict[str, Path] = {"ceiling": HERE}
        for name, _, rev in labels:
            tree = Path(scratch) / name
            subprocess.run(["git", "-C", str(HERE), "worktree", "add", "--detach", "-q",
                            str(tree), rev], check=True)
            trees[name] = tree
        try:
            rows = _compare(trees, args.rounds, args.size)
        finally:
            for name, _, _ in labels:
                subprocess.run(["git", "-C", str(HERE), "worktree", "remove", "--force",
                                str(trees[name])], check=False)
    print(f"\n{args.size:,} userids, {args.rounds} rounds; ratios to the same round's ceiling")
    print("| contender | req/s | x ceiling | CPU us/req | x ceiling (range) |")
    print("|---|---|---|---|---|")
    for name, (rps, cpu, rps_ratio, cpu_ratios) in rows.items():
        print(f"| {name} | {rps:,.0f} | {rps_ratio:.2f} | {cpu:.0f} | "
              f"{statistics.median(cpu_ratios):.2f} ({min(cpu_ratios):.2f}-"
              f"{max(cpu_ratios):.2f}) |")


def _compare(trees: dict[str, Path], rounds: int, size: int
             ) -> dict[str, tuple[float, float, float, list[float]]]:
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    with LeanServer(users=size + 10) as server:
        for number in range(rounds):
            for name, tree in trees.items():
                contender = "ceiling" if name == "ceiling" else "dingnotify"
                rps, cpu = _run(tree, contender, server.url, size)
                runs[name].append((rps, cpu))
                print(f"round {number + 1}: {name} {rps:,.0f} req/s, {cpu:.0f} us/req",
                      file=sys.stderr, flush=True)
    ceiling = runs["ceiling"]
    return {
        name: (
            statistics.median(r for r, _ in xs),
            statistics.median(c for _, c in xs),
            statistics.median(r / ceiling[i][0] for i, (r, _) in enumerate(xs)),
            [c / ceiling[i][1] for i, (_, c) in enumerate(xs)],
        )
        for name, xs in runs.items()
    }


if __name__ == "__main__":
    main()
