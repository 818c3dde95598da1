"""Robot routes, and two relay replicas sharing one token and one quota through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest

from dingnotify import DingTalkClient, Quota
from dingnotify.relay import Relay, load_config
from dingnotify.testing import Emulator, Org
from tests.redis.conftest import BINARY, RedisServer

from .conftest import AUTH, FAST, eventually

CONFIG = """\
[relay]
queue = "{queue}"
token_env = "RELAY_TOKEN"

[[route]]
name = "robot"
match = {{ kind = "robot" }}
robot = {{ userids = ["u000001", "u000002"] }}

[[route]]
name = "people"
work_notice = {{ userids = ["u000001"] }}
"""
RATE_LIMITED = {90018, 90006, 90002, 88}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if BINARY is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(CONFIG.format(queue=f"{name}.sqlite"))
    return path


async def test_a_robot_route_sends_one_to_one_robot_messages(
        tmp_path: Path, relay_env: None) -> None:
    async with Emulator() as emu, DingTalkClient(
            emu.app.app_key, emu.app.app_secret, agent_id=emu.app.agent_id,
            base_url=emu.url, api_base_url=emu.url, robot_code=emu.robot_code,
            retry=FAST) as client, Relay(load_config(_config(tmp_path, "r")), client,
                                         port=0) as relay, aiohttp.ClientSession() as http:
        body = {"route": "robot", "message": {"msgtype": "markdown", "markdown": {
            "title": "Deploy", "text": "### v2 is live"}}}
        async with http.post(f"{relay.url}/notify", json=body, headers=AUTH) as resp:
            assert resp.status == 202
            id_ = (await resp.json())["id"]

        async def sent() -> object:
            async with http.get(f"{relay.url}/notifications/{id_}", headers=AUTH) as resp:
                view = await resp.json()
            return view if view["status"] == "sent" else None

        view = await eventually(sent)
        assert view["task_ids"] and view["outcome"] == {}
        for user in ("u000001", "u000002"):
            [message] = emu.robot_inbox(user)
            assert message.msg_key == "sampleMarkdown"
            assert message.msg_param == {"title": "Deploy", "text": "### v2 is live"}


async def test_two_replicas_share_one_token_and_one_quota(
        tmp_path: Path, relay_env: None, redis_server: RedisServer) -> None:
    from dingnotify.redis import RedisCoordination

    async with Emulator(org=Org.synthetic(n_users=200), profile="standard") as emu, \
            AsyncExitStack() as stack, aiohttp.ClientSession() as http:
        relays = []
        for name in ("a", "b"):
            shared = await stack.enter_async_context(
                RedisCoordination.from_url(redis_server.url, namespace="relay-test"))
            client = await stack.enter_async_context(DingTalkClient(
                emu.app.app_key, emu.app.app_secret, agent_id=emu.app.agent_id,
                base_url=emu.url, retry=FAST, quota=Quota.standard(), coordination=shared))
            relays.append(await stack.enter_async_context(Relay(
                load_config(_config(tmp_path, name)), client, port=0, coordination=shared)))

        async def post(i: int) -> int:
            body = {"to": {"userids": [f"u{i + 1:06d}"]},
                    "message": {"msgtype": "text", "text": {"content": f"r-{i}"}}}
            async with http.post(f"{relays[i % 2].url}/notify", json=body,
                                 headers=AUTH) as resp:
                return resp.status

        assert await asyncio.gather(*(post(i) for i in range(120))) == [202] * 120

        def delivered() -> int:
            return sum(len(emu.inboxes.get(f"u{i + 1:06d}", [])) for i in range(120))

        assert await eventually(lambda: delivered() == 120, timeout=60)
        assert [r.response.get("errcode") for r in emu.requests if isinstance(
            r.response, dict) and r.response.get("errcode") in RATE_LIMITED] == []
        assert emu.tokens_issued == 1
