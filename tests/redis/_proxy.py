"""A slow Redis: a TCP proxy on 127.0.0.1 that holds every chunk ``rtt / 2`` seconds in each
direction (order kept), and the grant rate one process reaches through it.

``python -m tests.redis._proxy [--rtt 0.1] [--seconds 6] [--priority interactive]``
starts a ``redis-server``, measures and prints calls a second of a 20 qps quota.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from dingnotify import Priority, Quota
from dingnotify.redis import RedisCoordination


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(chunk)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(deliver())
    try:
        while chunk := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay, chunk))
    except OSError:
        pass
    finally:
        queue.put_nowait((0.0, b""))
        with contextlib.suppress(OSError):
            await sender


@contextlib.asynccontextmanager
async def slow_proxy(port: int, rtt: float) -> AsyncIterator[int]:
    """Yield the port of a proxy to ``127.0.0.1:port`` that adds ``rtt`` to each round trip."""
    links: set[asyncio.Task[object]] = set()
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(up_writer)
        task = asyncio.ensure_future(asyncio.gather(_pipe(reader, up_writer, rtt / 2),
                                                    _pipe(up_reader, writer, rtt / 2)))
        links.add(task)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in links:
            task.cancel()
        await asyncio.gather(*links, return_exceptions=True)
        for writer in writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await server.wait_closed()


async def grant_rate(url: str, *, seconds: float, warmup: float = 1.0, workers: int = 8,
                     call: float = 0.02,
                     priority: Priority = "interactive") -> tuple[float, int]:
    """Calls a second one process is granted of ``Quota(qps=20)`` (no recipients), counted
    from ``warmup`` to ``seconds`` with ``workers`` callers, each call ``call`` seconds;
    and how many outages the process saw meanwhile."""
    started = time.monotonic()
    stamps: list[float] = []
    async with RedisCoordination.from_url(url, namespace=f"rtt{uuid.uuid4().hex[:8]}") as shared:
        governor = shared.governor("app", Quota(qps=20))

        async def worker() -> None:
            while time.monotonic() - started < seconds:
                slot = await governor.acquire("/api", priority=priority)
                stamps.append(time.monotonic() - started)
                await asyncio.sleep(call)
                slot.done()

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(workers))),
                               seconds + 10)
        outages = shared.health.outages
    counted = [s for s in stamps if warmup <= s < seconds]
    return len(counted) / (seconds - warmup), outages


async def _main(rtt: float, seconds: float, priority: Priority) -> None:
    from tests.redis.conftest import RedisServer

    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            async with slow_proxy(server.port, rtt) as port:
                rate, outages = await grant_rate(f"redis://127.0.0.1:{port}/0", seconds=seconds,
                                        priority=priority)
        finally:
            server.stop()
    print(f"rtt {rtt * 1000:.0f} ms: {rate:.1f} calls/s of 20 ({priority}), "
          f"{outages} outage(s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rtt", type=float, default=0.1)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--priority", choices=["interactive", "bulk"], default="interactive")
    options = parser.parse_args()
    asyncio.run(_main(options.rtt, options.seconds, options.priority))
