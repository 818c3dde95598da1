"""``python -m benchmarks.relay``: durable accepts of ``dingnotify serve`` (issue 23).

The relay runs as the real command in its own process (pinned to core 1 when ``taskset``
exists) with its sqlite queue on disk (``synchronous=FULL``) and delivering to a lean
emulator process meanwhile; this process is the client, on core 0. Two runs:

- **throughput**: ``--requests`` POST /notify with 64 in flight; accepted per second.
- **latency at a fixed rate**: ``--rate`` requests a second, each sent on its schedule
  (open loop, so a slow answer does not slow the arrivals); p50/p99 accept latency.

Targets: >= 1,000 accepts/s, p99 <= 50 ms at 500/s. Run under ``flock /work/cpu.lock``
on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

TOKEN = "bench-relay-token-0123456789"
TARGET_RATE, TARGET_P99_MS = 1000.0, 50.0
CONFIG = """\
[relay]
queue = "relay.sqlite"
token_env = "RELAY_TOKEN"

[[route]]
name = "all"
work_notice = { userids = ["u000001"] }
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pinned(core: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if shutil.which("taskset") else argv


@contextmanager
def _process(argv: list[str], **kw: object) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(argv, text=True, **kw)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _emulator_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if m := re.search(r"listening on (http://\S+)", line):
            return m[1]
    raise RuntimeError("the emulator did not start")


async def _wait_up(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with http.get(f"{url}/healthz", headers=_auth()) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the relay did not start")


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def _body(i: int) -> bytes:
    return json.dumps({"to": {"userids": [f"u{i % 150 + 1:06d}"]}, "message": {
        "msgtype": "text", "text": {"content": f"bench {i}"}}}).encode()


async def _post(http: aiohttp.ClientSession, url: str, i: int) -> float:
    start = time.perf_counter()
    async with http.post(f"{url}/notify", data=_body(i), headers=_auth()) as resp:
        await resp.read()
        if resp.status != 202:
            raise RuntimeError(f"answer {resp.status}")
    return time.perf_counter() - start


async def throughput(http: aiohttp.ClientSession, url: str, n: int) -> float:
    """Accepts a second with 64 requests in flight."""
    limiter = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        async with limiter:
            await _post(http, url, i)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - start)


async def fixed_rate(http: aiohttp.ClientSession, url: str, rate: float,
                     seconds: float) -> list[float]:
    """Latency of every request, each sent at ``start + i / rate`` (open loop)."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    n = int(rate * seconds)

    async def one(i: int) -> float:
        await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
        return await _post(http, url, 1_000_000 + i)

    return await asyncio.gather(*(one(i) for i in range(n)))


async def run(args: argparse.Namespace, url: str) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as http:
        await _wait_up(http, url)
        await throughput(http, url, 200)  # warm-up: connections, token, sqlite pages
        rate = throughput(http, url, args.requests)
        accepts = await rate
        await asyncio.sleep(1.0)
        latencies = sorted(await fixed_rate(http, url, args.rate, args.seconds))
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return {"accepts_per_s": accepts, "rate": args.rate, "p50_ms":
            statistics.median(latencies) * 1000, "p99_ms": p99, "max_ms": latencies[-1] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="throughput run size")
    parser.add_argument("--rate", type=float, default=500.0, help="fixed-rate run, per s")
    parser.add_argument("--seconds", type=float, default=10.0, help="fixed-rate run length")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "RELAY_TOKEN": TOKEN}
    with tempfile.TemporaryDirectory() as tmp, _process(
            _pinned(0, [sys.executable, "-m", "dingnotify.testing", "--port", "0", "--lean",
                        "--users", "200"]), stdout=subprocess.PIPE, env=env) as emulator:
        base = _emulator_url(emulator)
        Path(tmp, "relay.toml").write_text(CONFIG)
        port = _port()
        env.update(DINGTALK_APP_KEY="dingemuappkey", DINGTALK_APP_SECRET="emu-secret-do-not-log",
                   DINGTALK_AGENT_ID="1000", DINGTALK_BASE_URL=base)
        with _process(_pinned(1, [sys.executable, "-m", "dingnotify.cli", "serve", "--config",
                                  "relay.toml", "--listen", f"127.0.0.1:{port}"]),
                      cwd=tmp, env=env, stderr=subprocess.DEVNULL):
            figures = asyncio.run(run(args, f"http://127.0.0.1:{port}"))
    print(f"durable accepts: {figures['accepts_per_s']:,.0f}/s (target >= {TARGET_RATE:,.0f})")
    print(f"at {figures['rate']:g}/s: p50 {figures['p50_ms']:.1f} ms, p99 "
          f"{figures['p99_ms']:.1f} ms (target <= {TARGET_P99_MS:g}), max "
          f"{figures['max_ms']:.1f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
