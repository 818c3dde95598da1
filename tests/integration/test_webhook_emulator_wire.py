"""The emulator's group robot rules, over raw HTTP (no SDK code involved)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from dingnotify.testing import Emulator, ManualClock, webhook_sign

SECRET = "SECwire0123456789"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())


@pytest.fixture
async def emu(clock: ManualClock) -> AsyncIterator[Emulator]:
    async with Emulator(clock=clock) as e:
        yield e


@pytest.fixture
async def post(emu: Emulator) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        async def send(params: dict[str, str], body: Any = None, raw: bytes | None = None) -> Any:
            data = raw if raw is not None else json.dumps(
                body if body is not None else {"msgtype": "text", "text": {"content": "hi"}},
                ensure_ascii=False).encode()
            async with session.post(emu.url + "/robot/send", params=params, data=data,
                                    headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 200
                return await resp.json(content_type=None)
        yield send


def signed(token: str, now: float, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(now * 1000))
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return {"access_token": token, "timestamp": ts, "sign": base64.b64encode(mac).decode()}


def test_webhook_sign_is_the_documented_algorithm() -> None:
    mac = hmac.new(b"k", b"1700000000000\nk", hashlib.sha256).digest()
    assert webhook_sign("k", 1700000000000) == base64.b64encode(mac).decode()


async def test_token_signature_and_timestamp(emu: Emulator, clock: ManualClock, post: Any) -> None:
    emu.add_webhook_robot("t", secret=SECRET)
    assert (await post({"access_token": "nope"}))["errcode"] == 300005
    assert (await post({"access_token": "t"})) == {"errcode": 310000,
                                                   "errmsg": "timestamp invalid"}
    assert (await post(signed("t", clock(), "SECother")))["errmsg"] == "sign not match"
    assert (await post(signed("t", clock() - 3601)))["errmsg"] == "timestamp invalid"
    assert (await post(signed("t", clock() - 3500))) == {"errcode": 0, "errmsg": "ok"}
    assert emu.webhook_messages("t") == [{"msgtype": "text", "text": {"content": "hi"}}]


async def test_keywords_ip_size_and_shape(emu: Emulator, post: Any) -> None:
    emu.add_webhook_robot("kw", keywords=("alert",))
    emu.add_webhook_robot("ip", ip_allow={"10.0.0.1"})
    emu.add_webhook_robot("open")
    kw = await post({"access_token": "kw"})
    assert (kw["errcode"], kw["errmsg"]) == (310000, "keywords not in content")
    ok = await post({"access_token": "kw"}, {"msgtype": "markdown",
                                            "markdown": {"title": "alert", "text": "x"}})
    assert ok["errcode"] == 0
    assert (await post({"access_token": "ip"}))["errmsg"].startswith("ip 127.0.0.1")
    big = {"msgtype": "text", "text": {"content": "x" * 20_000}}
    assert (await post({"access_token": "open"}, big))["errcode"] == 460101
    for bad in ({"msgtype": "nope"}, {"msgtype": "text", "text": {}},
                {"msgtype": "link", "link": {"title": "t", "text": "x"}},
                {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x"}},
                {"msgtype": "feedCard", "feedCard": {"links": [{"title": "t"}]}},
                {"msgtype": "text", "text": {"content": "x"}, "at": {"atMobiles": "1"}}):
        assert (await post({"access_token": "open"}, bad))["errcode"] == 400402, bad
    assert (await post({"access_token": "open"}, raw=b"{nope"))["errcode"] == 400402


async def test_20_per_sliding_minute(emu: Emulator, clock: ManualClock, post: Any) -> None:
    robot = emu.add_webhook_robot("r")
    codes = [(await post({"access_token": "r"}))["errcode"] for _ in range(21)]
    assert codes == [0] * 20 + [130101]
    clock.advance(59.9)
    assert (await post({"access_token": "r"}))["errcode"] == 130101
    clock.advance(0.2)
    assert (await post({"access_token": "r"}))["errcode"] == 0
    assert len(robot.messages) == 21 and robot.answers[130101] == 2
