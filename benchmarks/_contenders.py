"""One scenario, one contender, in this process: what the harness runs in a fresh interpreter.

Contenders: ``ceiling`` (raw aiohttp, pre-encoded bodies, a semaphore), ``dingnotify``, and
``peer-seq`` / ``peer-16`` / ``peer-64`` (dingtalk-sdk, sequential or in a thread pool). The
throughput scenarios give dingnotify ``quota=None`` (no client-side pacing, like the
others); the quota-bound ones pass the client the same budgets the emulator enforces.
The official ``alibabacloud-dingtalk`` SDK runs from its own venv: ``_alisdk.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp

import dingnotify
from dingnotify import Quota, Text
from dingnotify.robot import SampleText

APP_KEY, APP_SECRET, AGENT_ID = "dingemuappkey", "emu-secret-do-not-log", 1000
SEND = "/topapi/message/corpconversation/asyncsend_v2"
PROGRESS = "/topapi/message/corpconversation/getsendprogress"
MSG = {"msgtype": "text", "text": {"content": "Benchmark notice: all-hands on Friday at 15:00."}}
MESSAGE = Text(content="Benchmark notice: all-hands on Friday at 15:00.")
ROBOT_MESSAGE = SampleText(content="Benchmark notice: all-hands on Friday at 15:00.")
HEADERS = {"Content-Type": "application/json;charset=UTF-8"}
CONCURRENCY = 16


def userids(n: int) -> Iterator[str]:
    """The emulator's synthetic users (u000001..), so the server does real delivery work."""
    return (f"u{i:06d}" for i in range(1, n + 1))


def batches(n: int) -> list[list[str]]:
    ids = list(userids(n))
    return [ids[i : i + 100] for i in range(0, n, 100)]


# ---------------------------------------------------------------- ceiling (raw aiohttp)
async def _ceiling_token(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(f"{url}/gettoken",
                           params={"appkey": APP_KEY, "appsecret": APP_SECRET}) as resp:
        return str((await resp.json())["access_token"])


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> dict[str, Any]:
    async with session.post(url, data=body, headers=HEADERS) as resp:
        data: dict[str, Any] = json.loads(await resp.read())
        if data.get("errcode") != 0:
            raise RuntimeError(f"ceiling got {data}")
        return data


async def ceiling_broadcast(url: str, n: int) -> dict[str, Any]:
    bodies = [json.dumps({"agent_id": AGENT_ID, "msg": MSG, "userid_list": ",".join(b)},
                         separators=(",", ":")).encode() for b in batches(n)]
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        token = await _ceiling_token(session, url)
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(target: str, body: bytes) -> dict[str, Any]:
            async with sem:
                return await _post(session, target, body)

        sent = await asyncio.gather(*(one(f"{url}{SEND}?access_token={token}", b)
                                      for b in bodies))
        polls = [json.dumps({"agent_id": AGENT_ID, "task_id": r["task_id"]}).encode()
                 for r in sent]
        await asyncio.gather(*(one(f"{url}{PROGRESS}?access_token={token}", b) for b in polls))
    return {"wall": time.perf_counter() - started, "requests": len(bodies) * 2 + 1}


async def ceiling_web(url: str, n: int, tasks: int) -> dict[str, Any]:
    body = json.dumps({"agent_id": AGENT_ID, "msg": MSG, "userid_list": "u000001"}).encode()
    latencies: list[float] = []
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        target = f"{url}{SEND}?access_token={await _ceiling_token(session, url)}"
        per_task = n // tasks

        async def worker() -> None:
            for _ in range(per_task):
                t0 = time.perf_counter()
                await _post(session, target, body)
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(tasks)))
    return {"wall": time.perf_counter() - started, "requests": len(latencies) + 1,
            "latencies": latencies}


# ---------------------------------------------------------------- dingnotify
def _client(url: str, quota: Quota | None = None, robot_code: str | None = None
            ) -> dingnotify.DingTalkClient:
    return dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=AGENT_ID, base_url=url,
                                     api_base_url=url, robot_code=robot_code, quota=quota)


async def dingnotify_broadcast(url: str, n: int, *, quota: Quota | None = None,
                               rate: float | None = None, stream: bool = False,
                               poll: bool = True, wait: bool = False,
                               must_succeed: bool = True) -> dict[str, Any]:
    """``broadcast`` then, with ``poll``, ``get_progress`` per task (scenario 1), or, with
    ``wait``, ``wait(report)`` (the quota-bound scenarios count its calls per task)."""
    # The caller's list exists before it calls (as the ceiling's batches do); a stream
    # is read, checked and de-duplicated on the clock either way.
    source = userids(n) if stream else list(userids(n))
    started = time.perf_counter()
    out: dict[str, Any] = {}
    async with _client(url, quota) as client:
        report = await client.work_notice.broadcast(MESSAGE, userids=source,
                                                    concurrency=CONCURRENCY, rate=rate)
        send_wall = time.perf_counter() - started
        if report.failed and must_succeed:
            raise RuntimeError(f"{len(report.failed)} batches failed: {report.failed[0].error}")
        if poll:
            sem = asyncio.Semaphore(CONCURRENCY)

            async def progress(task_id: int) -> None:
                async with sem:
                    await client.work_notice.get_progress(task_id)

            await asyncio.gather(*(progress(t) for t in report.task_ids))
        if wait and report.task_ids:
            t0 = time.perf_counter()
            result = await client.work_notice.wait(report, poll_interval=0.2, timeout=300)
            out.update(wait_wall=time.perf_counter() - t0,
                       seen_throttled=len(result.throttled_userids))
    calls = len(report.batches) * (2 if poll else 1) + 1
    out.update(wall=time.perf_counter() - started, send_wall=send_wall, requests=calls,
               tasks=len(report.task_ids), failed=len(report.failed),
               unknown=len(report.unknown), rate_limited=report.rate_limited,
               retries=report.retries)
    return out


async def dingnotify_robot(url: str, n: int, robot_code: str) -> dict[str, Any]:
    """``client.robot.broadcast``: 20 userids per call (DingTalk's cap for batchSend)."""
    started = time.perf_counter()
    async with _client(url, None, robot_code) as client:
        report = await client.robot.broadcast(ROBOT_MESSAGE, userids=list(userids(n)),
                                              concurrency=CONCURRENCY)
        if report.failed or report.unknown:
            raise RuntimeError(f"{len(report.failed)} robot batches failed")
        sent = len(report.robot_sent_userids)
    return {"wall": time.perf_counter() - started, "requests": len(report.batches) + 1,
            "recipients": sent}


async def dingnotify_web(url: str, n: int, tasks: int) -> dict[str, Any]:
    latencies: list[float] = []
    started = time.perf_counter()
    async with _client(url) as client:
        await client.get_access_token()
        per_task = n // tasks

        async def worker() -> None:
            for _ in range(per_task):
                t0 = time.perf_counter()
                await client.work_notice.send(MESSAGE, userids=["u000001"])
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(tasks)))
    return {"wall": time.perf_counter() - started, "requests": len(latencies) + 1,
            "latencies": latencies}


async def dingnotify_storm(url: str, n: int) -> dict[str, Any]:
    started = time.perf_counter()
    async with _client(url) as client:
        await asyncio.gather(*(client.work_notice.send(MESSAGE, userids=[f"u{i % 1000 + 1:06d}"])
                               for i in range(n)))
    return {"wall": time.perf_counter() - started, "requests": n}


# ---------------------------------------------------------------- peer: dingtalk-sdk
def _peer(url: str) -> Any:
    from dingtalk import AppKeyClient  # type: ignore[import-untyped,import-not-found,unused-ignore]

    client = AppKeyClient("bench-corp", APP_KEY, APP_SECRET)
    client.API_BASE_URL = url + "/"
    return client


def _peer_map(threads: int, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    if threads <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def peer_broadcast(url: str, n: int, threads: int) -> dict[str, Any]:
    client = _peer(url)
    started = time.perf_counter()
    sent = _peer_map(threads, lambda b: client.post(SEND, {
        "agent_id": AGENT_ID, "msg": MSG, "userid_list": ",".join(b)}), batches(n))
    _peer_map(threads, lambda r: client.post(PROGRESS, {
        "agent_id": AGENT_ID, "task_id": r["task_id"]}), sent)
    return {"wall": time.perf_counter() - started, "requests": len(sent) * 2}


def peer_web(url: str, n: int, threads: int) -> dict[str, Any]:
    client = _peer(url)
    latencies: list[float] = []
    body = {"agent_id": AGENT_ID, "msg": MSG, "userid_list": "u000001"}

    def one(_: int) -> None:
        t0 = time.perf_counter()
        client.post(SEND, body)
        latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    _peer_map(threads, one, list(range(n)))
    return {"wall": time.perf_counter() - started, "requests": n, "latencies": latencies}


def peer_storm(url: str, n: int, threads: int) -> dict[str, Any]:
    client = _peer(url)
    started = time.perf_counter()
    _peer_map(threads, lambda i: client.post(SEND, {
        "agent_id": AGENT_ID, "msg": MSG, "userid_list": f"u{i % 1000 + 1:06d}"}), list(range(n)))
    return {"wall": time.perf_counter() - started, "requests": n}
