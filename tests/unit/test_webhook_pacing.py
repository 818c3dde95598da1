"""The sliding window: 20 in any 60 s, callers wait their turn; 130101 backs off."""

from __future__ import annotations

import asyncio

import pytest

from dingnotify.webhook import (
    Text,
    WebhookRateLimitedError,
    WebhookRobot,
)
from dingnotify.webhook._pacing import SlidingWindowLimiter, shared_limiter
from tests.unit.webhook_fake import FakeTime, fake_webhook


async def test_the_21st_of_25_waits_until_the_window_slides() -> None:
    clock = FakeTime(start=1000.0)
    limiter = SlidingWindowLimiter(20, 60.0, clock=clock, sleep=clock.sleep)
    started: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        started.append(clock())

    await asyncio.gather(*(one() for _ in range(25)))
    assert started[:20] == [1000.0] * 20
    assert sorted(started[20:]) == [1060.0] * 5
    for i in range(len(started) - 20):  # never more than 20 in any 60 s
        assert sorted(started)[i + 20] - sorted(started)[i] >= 60.0


async def test_window_slides_with_spread_out_sends() -> None:
    clock = FakeTime(start=0.0)
    limiter = SlidingWindowLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.acquire()
        clock.now += 4.0  # sends at 0, 4, 8
    assert limiter.delay() == pytest.approx(0.0)  # now 12: the send at 0 has left the window
    await limiter.acquire()  # at 12
    assert limiter.delay() == pytest.approx(2.0)  # the send at 4 leaves at 14


def test_robots_on_the_same_url_share_one_window() -> None:
    a = WebhookRobot("https://x.example/robot/send?access_token=t1")
    b = WebhookRobot("https://x.example/robot/send?access_token=t1")
    c = WebhookRobot("https://x.example/robot/send?access_token=t2")
    assert a.limiter is b.limiter is shared_limiter(a._creds.key)
    assert c.limiter is not a.limiter


async def test_130101_backs_off_a_full_window_then_succeeds() -> None:
    clock = FakeTime()
    limiter = SlidingWindowLimiter(clock=clock, sleep=clock.sleep)
    async with fake_webhook() as fake, WebhookRobot(fake.url, limiter=limiter) as r:
        fake.answer(payload={"errcode": 130101, "errmsg": "send too fast"})
        fake.answer()
        await r.send(Text(content="x"))
    assert len(fake.seen) == 2
    assert sum(clock.slept) >= 60.0


async def test_130101_retries_are_bounded() -> None:
    clock = FakeTime()
    limiter = SlidingWindowLimiter(clock=clock, sleep=clock.sleep)
    async with fake_webhook() as fake, WebhookRobot(
            fake.url, limiter=limiter, max_rate_limited_retries=2) as r:
        for _ in range(5):
            fake.answer(payload={"errcode": 130101, "errmsg": "send too fast"})
        with pytest.raises(WebhookRateLimitedError):
            await r.send(Text(content="x"))
    assert len(fake.seen) == 3
