"""The emulator under careless or hostile clients: huge bodies and stalled connections.

Raw HTTP and raw sockets only. Timeouts are small and every loop is bounded in count and
time, so the file runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import gc
import io
import time
import tracemalloc
from typing import Any

import aiohttp
import pytest

from dingnotify.testing import Emulator, Fault, FaultPlan

from .conftest import SEND, Wire

MiB = 1024 * 1024
TEXT = {"msgtype": "text", "text": {"content": "hi"}}


# -- bounded memory (60 MB bodies used to stay resident until reset) ----------------------


async def _post_big(wire: Wire, blob: bytes) -> Any:
    """One big POST on its own connection: aiohttp keeps the last request of an open
    keep-alive connection until the next one arrives (the idle timeout bounds that)."""
    async with wire.session.post(
        wire.emu.url + SEND, params={"access_token": await wire.token()},
        data=io.BytesIO(blob),
        headers={"Content-Type": "application/json", "Connection": "close"},
    ) as resp:
        return await resp.json(content_type=None)


async def test_large_bodies_are_not_retained(session: aiohttp.ClientSession) -> None:
    blob = b"{" + b"x" * (8 * MiB)
    async with Emulator() as emu:
        wire = Wire(emu, session)
        assert (await wire.send(TEXT, userid_list="u000001"))["errcode"] == 0
        start = time.monotonic()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(10):
                assert (await _post_big(wire, blob))["errcode"] == 43009
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert time.monotonic() - start < 3.0
    assert grown < 4 * MiB, f"{grown / MiB:.1f} MiB kept after 10 bodies of 8 MiB"
    big = emu.requests[-1]
    assert big.body_size == len(blob) and big.body_truncated
    assert len(big.body) == 64 * 1024 and big.json is None
    assert big.response is not None and big.response["errcode"] == 43009
    normal = emu.requests[1]
    assert normal.json is not None and normal.json["msg"] == TEXT
    assert not normal.body_truncated
    assert normal.body_size == len(normal.body)


async def test_record_count_is_bounded(session: aiohttp.ClientSession) -> None:
    async with Emulator(record_limit=5, record_body_limit=16) as emu:
        wire = Wire(emu, session)
        for i in range(8):
            await wire.send({"msgtype": "text", "text": {"content": f"m{i}"}},
                            userid_list="u000001")
        stats = await wire.get("/_emulator/stats")
    assert stats["records_dropped"] == 4  # gettoken + 3 sends, before the stats call itself
    assert len(emu.requests) == 5 and emu.records_dropped == 5
    assert emu.requests[-1].path == "/_emulator/stats"
    assert all(len(r.body) <= 16 for r in emu.requests)
    assert emu.count(SEND) == 8 and len(emu.tasks) == 8  # counters are not bounded
    emu.reset_stats()
    assert emu.records_dropped == 0 and not emu.requests
    with pytest.raises(ValueError):
        Emulator(record_limit=0)


# -- idle and half-sent connections (1,000 of them exhausted descriptors) ------------------


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    return await reader.read()


async def test_half_sent_requests_are_closed(session: aiohttp.ClientSession) -> None:
    partial = [b"", b"POST /topapi/message/corpconv",
               b"GET /gettoken?appkey=x HTTP/1.1\r\nHost: a\r\n",
               b"POST " + SEND.encode() + b" HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n"
               b"Content-Type: application/json\r\n\r\n{\"agent_id\":"]
    async with Emulator(idle_timeout=0.3) as emu:
        streams = []
        try:
            for i in range(50):
                reader, writer = await asyncio.open_connection(emu.host, emu.port)
                writer.write(partial[i % len(partial)])
                streams.append((reader, writer))
            wire = Wire(emu, session)
            assert (await wire.send(TEXT, userid_list="u000001"))["errcode"] == 0
            start = time.monotonic()
            async with asyncio.timeout(3.0):
                answers = await asyncio.gather(*(_closed_by_server(r) for r, _ in streams))
            waited = time.monotonic() - start
        finally:
            for _, writer in streams:
                writer.close()
        assert answers == [b""] * 50  # closed, never answered
        # Newer aiohttp closes some malformed partial requests itself; the guard the rest.
        assert waited < 1.5 and emu.connections_closed >= 1
        assert (await wire.send(TEXT, userid_list="u000002"))["errcode"] == 0
        assert (await wire.get("/_emulator/stats"))["connections_closed"] >= 1
    assert len(emu.tasks) == 2


async def test_dripping_headers_do_not_extend_the_deadline() -> None:
    async with Emulator(idle_timeout=0.3) as emu:
        reader, writer = await asyncio.open_connection(emu.host, emu.port)
        start = time.monotonic()
        closed = False
        try:
            for _ in range(40):  # at most ~2 s
                writer.write(b"X")
                try:  # newer aiohttp answers 400 itself: read past it, to the close
                    closed = await asyncio.wait_for(reader.read(65536), 0.05) == b""
                except TimeoutError:
                    continue
                except ConnectionError:  # our next byte met the closed socket first
                    closed = True
                if closed:
                    break
        finally:
            writer.close()
        assert closed and time.monotonic() - start < 1.2


async def test_slow_handler_and_keep_alive_reuse_are_not_cut(
        session: aiohttp.ClientSession) -> None:
    plan = FaultPlan(rules=[Fault(path=SEND, kind="delay", delay=0.5, times=1)])
    async with Emulator(idle_timeout=0.2, faults=plan) as emu:
        wire = Wire(emu, session)
        assert (await wire.send(TEXT, userid_list="u000001"))["errcode"] == 0  # 0.5 s wait
        for i in range(3):  # one pooled connection reused inside the timeout
            await asyncio.sleep(0.05)
            body = await wire.send({"msgtype": "text", "text": {"content": f"{i}"}},
                                   userid_list="u000001")
            assert body["errcode"] == 0
        assert emu.faults_injected["delay"] == 1
    with pytest.raises(ValueError):
        Emulator(idle_timeout=0)
