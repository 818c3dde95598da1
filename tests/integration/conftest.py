"""Fixtures for the emulator's own wire tests: raw HTTP only, never the SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from dingnotify.testing import Emulator, ManualClock

SEND = "/topapi/message/corpconversation/asyncsend_v2"
PROGRESS = "/topapi/message/corpconversation/getsendprogress"
RESULT = "/topapi/message/corpconversation/getsendresult"
RECALL = "/topapi/message/corpconversation/recall"
STATUS_BAR = "/topapi/message/corpconversation/status_bar/update"
CROSSDOMAIN = "/topapi/dingtalk/impaas/message/crossdomain/send"


class Wire:
    """A thin raw-HTTP helper bound to one emulator."""

    def __init__(self, emu: Emulator, session: aiohttp.ClientSession) -> None:
        self.emu = emu
        self.session = session
        self._token: str | None = None

    async def get(self, path: str, **params: str) -> Any:
        async with self.session.get(self.emu.url + path, params=params) as resp:
            assert resp.status == 200
            return await resp.json(content_type=None)

    async def token(self) -> str:
        if self._token is None:
            app = self.emu.app
            body = await self.get("/gettoken", appkey=app.app_key, appsecret=app.app_secret)
            self._token = body["access_token"]
        return self._token

    async def post(self, path: str, body: Any, *, token: str | None = None,
                   raw: bytes | None = None) -> Any:
        tok = token if token is not None else await self.token()
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
        async with self.session.post(
            self.emu.url + path, params={"access_token": tok}, data=data,
            headers={"Content-Type": "application/json;charset=UTF-8"},
        ) as resp:
            assert resp.status == 200
            return await resp.json(content_type=None)

    async def send(self, msg: Any = None, **fields: Any) -> Any:
        body = {"agent_id": self.emu.app.agent_id,
                "msg": msg if msg is not None else {"msgtype": "text",
                                                     "text": {"content": "hello"}}}
        body.update(fields)
        return await self.post(SEND, body)

    async def result(self, task_id: int) -> Any:
        return await self.post(RESULT, {"agent_id": self.emu.app.agent_id, "task_id": task_id})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def emu(clock: ManualClock) -> AsyncIterator[Emulator]:
    async with Emulator(clock=clock) as e:
        yield e


@pytest.fixture
def wire(emu: Emulator, session: aiohttp.ClientSession) -> Wire:
    return Wire(emu, session)
