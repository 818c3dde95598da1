"""``python -m benchmarks.webhook_handler``: what ``WebhookHandler`` adds to ``logger.error``.

The application thread pays for formatting the record and one non-blocking queue put; the
network is the background thread's business. This measures that cost against a
``logging.NullHandler`` while the handler really posts to an emulator's group robot (in
another thread, paced at 20 a minute, so most of the storm is aggregated or dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import threading
import time

from dingnotify.testing import Emulator
from dingnotify.webhook import SlidingWindowLimiter, WebhookHandler

TARGET_US = 50.0


class _EmulatorThread:
    """An emulator serving from its own thread and loop for the benchmark's lifetime."""

    def __init__(self) -> None:
        self.emu: Emulator | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with Emulator() as emu:
            self.emu = emu
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Emulator:
        self._thread.start()
        if not self._ready.wait(15) or self.emu is None:
            raise RuntimeError("emulator did not start")
        return self.emu

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


def per_call_us(logger: logging.Logger, calls: int) -> float:
    """Microseconds per ``logger.error`` call, over ``calls`` calls."""
    start = time.perf_counter()
    for i in range(calls):
        logger.error("payment service timeout, order %d", i)
    return (time.perf_counter() - start) / calls * 1e6


def measure(handler: logging.Handler, name: str, calls: int, rounds: int) -> float:
    logger = logging.getLogger(f"benchmarks.webhook.{name}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        per_call_us(logger, 1_000)  # warm up
        return statistics.median(per_call_us(logger, calls) for _ in range(rounds))
    finally:
        logger.removeHandler(handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with _EmulatorThread() as emu:
        emu.add_webhook_robot("bench", secret="SECbench")
        webhook = WebhookHandler(emu.webhook_url("bench"), "SECbench",
                                 limiter=SlidingWindowLimiter())
        try:
            null_us = measure(logging.NullHandler(), "null", args.calls, args.rounds)
            hook_us = measure(webhook, "webhook", args.calls, args.rounds)
        finally:
            webhook.close()
        delivered = len(emu.webhook_messages("bench"))
    added = hook_us - null_us
    print(f"logger.error with NullHandler:    {null_us:8.2f} us/call")
    print(f"logger.error with WebhookHandler: {hook_us:8.2f} us/call")
    print(f"ratio {hook_us / null_us:.1f}x, added {added:.2f} us/call "
          f"(target < {TARGET_US:.0f} us: {'met' if added < TARGET_US else 'MISSED'})")
    print(f"{args.calls * args.rounds + 1_000} records -> {delivered} messages, "
          f"{webhook.dropped} counted as dropped")


if __name__ == "__main__":
    main()
