"""A group robot's 20 messages a minute, shared through Redis by every process: two
coordinations on one namespace stand for two processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dingnotify import RetryPolicy
from dingnotify.redis import RedisCoordination, RedisGovernor
from dingnotify.testing import MockResponse, MockTransport
from dingnotify.webhook import Text, WebhookRateLimitedError, WebhookRobot
from tests.redis.conftest import RedisServer

URL = "https://oapi.example/robot/send?access_token=robot-token"
OK = MockResponse(json={"errcode": 0, "errmsg": "ok"})


@pytest.fixture
async def pair(redis_server: RedisServer,
               namespace: str) -> AsyncIterator[list[RedisCoordination]]:
    shared = [RedisCoordination.from_url(redis_server.url, namespace=namespace)
              for _ in range(2)]
    try:
        yield shared
    finally:
        for one in shared:
            await one.aclose()


def governor_of(robot: WebhookRobot) -> RedisGovernor:
    governor = robot.governor
    assert isinstance(governor, RedisGovernor)
    return governor


async def test_two_processes_share_one_robots_20_a_minute(
        pair: list[RedisCoordination]) -> None:
    robots = [WebhookRobot(URL, transport=MockTransport(lambda r: OK), coordination=c)
              for c in pair]
    for i in range(20):
        await robots[i % 2].send(Text(content=f"alert {i}"))
    for robot in robots:  # the 21st, from either process, waits for the window
        wait = await governor_of(robot).reserve(robot.api)
        assert wait is not None and 59.0 < wait <= 60.5
    assert "robot-token" not in str(await pair[0].client.keys("*"))
    for robot in robots:
        await robot.aclose()


async def test_130101_in_one_process_closes_the_robot_in_the_other(
        pair: list[RedisCoordination]) -> None:
    throttled = MockResponse(json={"errcode": 130101, "errmsg": "send too fast"})
    first = WebhookRobot(URL, transport=MockTransport(lambda r: throttled),
                         coordination=pair[0], retry=RetryPolicy.none())
    second = WebhookRobot(URL, transport=MockTransport(lambda r: OK), coordination=pair[1])
    with pytest.raises(WebhookRateLimitedError):
        await first.send(Text(content="x"))
    await asyncio.gather(*governor_of(first)._pending)  # the closure has reached Redis
    wait = await governor_of(second).reserve(second.api)
    assert wait is not None and wait > 59.0
    await first.aclose()
    await second.aclose()
