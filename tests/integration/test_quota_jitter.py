"""Windows counted from answers hold under any jitter (issue 21, section 2): every request
waits a random 0-300 ms before it reaches the emulator, and a quota-bound run of a bulk
broadcast, interactive sends and polls crossing the per-minute window draws no rate-limit
answer and leaves no recipient undelivered.

Both sides share one warped clock (a minute passes in six real seconds), so the delays
are up to three seconds of that clock: three times the per-second window.
"""

from __future__ import annotations

import random

import anyio

from dingnotify import AiohttpTransport, Quota, Text
from dingnotify._transport import Request, Response
from dingnotify.testing import Emulator, Org, RateLimits
from tests.emulated import client_for
from tests.integration.test_quota_emulator import Warp, delivered

MAX_DELAY = 0.3


class Delayed:
    """The client's transport, with a random delay before each request leaves."""

    def __init__(self, seed: int) -> None:
        self._inner = AiohttpTransport()
        self._random = random.Random(seed)
        self.requests = 0

    async def handle(self, request: Request) -> Response:
        self.requests += 1
        await anyio.sleep(self._random.uniform(0, MAX_DELAY))
        return await self._inner.handle(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_no_rate_limit_answer_under_random_delays() -> None:
    warp = Warp(10)
    org = Org.synthetic(n_users=2_100)
    limits = RateLimits(qps=10, per_minute=100, recipients_per_minute=1_000)
    quota = Quota(qps=10, calls_per_minute=100, recipients_per_minute=1_000)
    users = list(org.users)
    transport = Delayed(seed=21)
    async with Emulator(org=org, profile=limits, monotonic=warp) as emu, \
            client_for(emu, quota=warp.governor(quota), transport=transport) as client:
        sent: list[int] = []
        polled: list[int] = []
        first = await client.work_notice.send(Text(content="p"), userids=[users[-1]])

        async def people() -> None:
            for userid in users[2_000:2_020]:
                sent.append(await client.work_notice.send(Text(content="p"),
                                                          userids=[userid]))
                await anyio.sleep(0.5)

        async def polls() -> None:
            async def poll() -> None:
                await client.work_notice.get_progress(first)
                polled.append(first)
            async with anyio.create_task_group() as tg:
                for _ in range(160):
                    tg.start_soon(poll)

        async with anyio.create_task_group() as tg:
            tg.start_soon(people)
            tg.start_soon(polls)
            report = await client.work_notice.broadcast(Text(content="b"),
                                                        userids=users[:2_000])
    assert report.complete and len(report.task_ids) == 20
    assert not report.failed and not report.unknown and report.rate_limited == 0
    assert len(sent) == 20 and len(polled) == 160
    assert sum(emu.throttled.values()) == 0
    assert sum(emu.undelivered.values()) == 0
    assert delivered(emu) == dict.fromkeys([*users[:2_020], users[-1]], 1)
    assert transport.requests == 1 + 1 + 20 + 160 + 20  # token, each call once: no retry
