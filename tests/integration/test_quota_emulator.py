"""The quota governor against the emulator's limits (issue 12).

Budgets are DingTalk's shape at a smaller size, and both sides share one warped clock (a
minute passes in a few real seconds), so the sliding 60-second windows are exercised for
real without minute-long tests. The warp shrinks the governor's safety margin in real time
(half a second of a minute becomes 60 ms at 8x), so it stays at 10x or below.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import pytest

from dingnotify import (
    Governor,
    Quota,
    QuotaExhaustedError,
    RetryPolicy,
    Text,
)
from dingnotify.testing import Emulator, Org, RateLimits
from tests.emulated import client_for

SEND = "/topapi/message/corpconversation/asyncsend_v2"
FLOW_CONTROL = "41047"


class Warp:
    """A clock running ``factor`` times faster than real time, and its sleep."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self._start = time.monotonic()

    def __call__(self) -> float:
        return self._start + (time.monotonic() - self._start) * self.factor

    def sleep(self) -> Callable[[float], Awaitable[None]]:
        async def sleep(seconds: float) -> None:
            await anyio.sleep(seconds / self.factor)
        return sleep

    def governor(self, quota: Quota) -> Governor:
        return Governor(quota, clock=self, sleep=self.sleep())


def delivered(emu: Emulator) -> dict[str, int]:
    return {u: len(box) for u, box in emu.inboxes.items() if box}


async def test_recipients_budget_delivers_everyone_and_takes_the_time_it_must() -> None:
    """2,500 recipients at 1,000 a minute: three windows, nobody silently filtered."""
    warp = Warp(10)
    org = Org.synthetic(n_users=2_500)
    limits = RateLimits(recipients_per_minute=1_000)
    quota = Quota(qps=1_000, calls_per_minute=100_000, recipients_per_minute=1_000)
    async with Emulator(org=org, profile=limits, monotonic=warp) as emu, \
            client_for(emu, quota=warp.governor(quota)) as client:
        started = warp()
        report = await client.work_notice.broadcast(Text(content="b"), userids=list(org.users))
        elapsed = warp() - started
        assert len(report.task_ids) == 25 and not report.failed and not report.unknown
        assert sum(emu.undelivered.values()) == 0
        assert delivered(emu) == dict.fromkeys(org.users, 1)
        assert elapsed >= 120  # 1,000 now, 1,000 after one minute, 500 after two
        assert elapsed < 130


async def test_without_a_quota_the_excess_is_silently_filtered_and_reported_throttled() -> None:
    """What the governor prevents: DingTalk answers success and delivers nothing; the
    result lists the filtered recipients as throttled, and re-sending them later delivers."""
    warp = Warp(20)
    org = Org.synthetic(n_users=1_500)
    limits = RateLimits(recipients_per_minute=1_000)
    async with Emulator(org=org, profile=limits, monotonic=warp) as emu:
        async with client_for(emu) as unpaced:  # quota=None
            report = await unpaced.work_notice.broadcast(Text(content="t"),
                                                         userids=list(org.users))
            assert len(report.task_ids) == 15 and not report.failed  # "all acknowledged"
            result = await unpaced.work_notice.wait(report, poll_interval=0.05, timeout=10)
        assert len(result.throttled_userids) == 500 == sum(emu.undelivered.values())
        assert not result.forbidden_userids  # flow control is kept apart from the other rules
        assert all(r.code == FLOW_CONTROL for r in result.forbidden)
        quota = Quota(qps=1_000, recipients_per_minute=1_000)
        async with client_for(emu, quota=warp.governor(quota)) as client:
            await anyio.sleep(61 / warp.factor)  # the app's minute has passed
            again = await client.work_notice.broadcast(Text(content="t"),
                                                       userids=result.throttled_userids)
            second = await client.work_notice.wait(again, poll_interval=0.05, timeout=10)
        assert not second.throttled_userids and len(second.unread_userids) == 500
        assert delivered(emu) == dict.fromkeys(org.users, 1)


async def test_calls_per_minute_window_is_crossed_without_a_rate_limit_answer() -> None:
    """260 concurrent sends under 200 calls a minute (DingTalk's 1,500 at a smaller size):
    the 201st waits for the window to slide; concurrent callers share one budget."""
    warp = Warp(8)
    org = Org.synthetic(n_users=260)
    limits = RateLimits(per_minute=200)
    quota = Quota(qps=1_000, calls_per_minute=200)
    async with Emulator(org=org, profile=limits, monotonic=warp) as emu, \
            client_for(emu, quota=warp.governor(quota)) as client:
        started = warp()
        task_ids: list[int] = []

        async def one(userid: str) -> None:
            task_ids.append(await client.work_notice.send(Text(content="m"), userids=[userid]))

        async with anyio.create_task_group() as tg:
            for userid in org.users:
                tg.start_soon(one, userid)
        elapsed = warp() - started
        assert len(task_ids) == 260 and emu.count(SEND) == 260
        assert emu.throttled[90006] == 0 and emu.throttled[90018] == 0
        assert 60 <= elapsed < 70


async def test_sends_and_a_broadcast_share_one_budget() -> None:
    """A broadcast and single sends in one client never exceed the qps window together."""
    org = Org.synthetic(n_users=1_200)
    limits = RateLimits(qps=20)
    async with Emulator(org=org, profile=limits) as emu, \
            client_for(emu, quota=Quota(qps=20, recipients_per_minute=100_000),
                       retry=RetryPolicy.none()) as client:
        users = list(org.users)

        async def singles() -> None:
            for userid in users[1_000:1_020]:
                await client.work_notice.send(Text(content="s"), userids=[userid])

        async with anyio.create_task_group() as tg:
            tg.start_soon(singles)
            report = await client.work_notice.broadcast(Text(content="b"),
                                                        userids=users[:1_000])
        assert len(report.task_ids) == 10 and emu.count(SEND) == 30
        assert emu.throttled[90018] == 0


async def test_monthly_quota_stops_the_broadcast_and_fails_every_unsent_batch() -> None:
    org = Org.synthetic(n_users=1_000)
    async with Emulator(org=org, profile=RateLimits(monthly_calls=5)) as emu, \
            client_for(emu) as client:
        report = await client.work_notice.broadcast(Text(content="q"), userids=list(org.users),
                                                    concurrency=1)
        assert len(report.task_ids) == 5
        assert len(report.failed) == 5 and not report.unknown
        assert all(isinstance(b.error, QuotaExhaustedError) for b in report.failed)
        assert isinstance(report.stopped_by, QuotaExhaustedError) and not report.complete
        assert emu.count(SEND) == 6  # the refused call was not retried


async def test_ip_ban_pauses_every_worker_then_resumes() -> None:
    """DingTalk's per-IP ban page: the client stays away for the time it names instead of
    hammering, then finishes the broadcast."""
    org = Org.synthetic(n_users=4_000)
    limits = RateLimits(ip_calls_per_window=25, ip_window=20.0, ip_ban_seconds=2.0)
    async with Emulator(org=org, profile=limits) as emu, \
            client_for(emu, quota=Quota(qps=1_000, recipients_per_minute=100_000)) as client:
        started = time.monotonic()
        report = await client.work_notice.broadcast(Text(content="i"), userids=list(org.users),
                                                    concurrency=4)
        elapsed = time.monotonic() - started
        assert len(report.task_ids) == 40 and not report.failed and not report.unknown
        bans = emu.throttled[1111]
        assert 1 <= bans <= 8  # the calls in flight when the ban fell, not a storm
        assert elapsed >= 2.0
        assert report.rate_limited == bans


@pytest.mark.slow
async def test_real_minute_window_1500_calls_per_minute_exclusive_edition() -> None:
    """DingTalk's own numbers, unwarped: 1,600 calls at 60 per second cross the 1,500
    calls-per-minute window with no 90006 and no 90018."""
    org = Org.synthetic(n_users=1_600)
    limits = RateLimits(qps=60, per_minute=1_500)
    quota = Quota.exclusive()
    async with Emulator(org=org, profile=limits, lean=True) as emu, \
            client_for(emu, quota=quota) as client:
        started = time.monotonic()
        count = 0

        async def one(userid: str) -> None:
            nonlocal count
            await client.work_notice.send(Text(content="x"), userids=[userid])
            count += 1

        async with anyio.create_task_group() as tg:
            for userid in org.users:
                tg.start_soon(one, userid)
        elapsed = time.monotonic() - started
        assert count == 1_600
        assert emu.throttled[90006] == 0 and emu.throttled[90018] == 0
        assert elapsed >= 60
