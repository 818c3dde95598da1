"""Malformed server answers become typed errors, never another exception type or a hang."""

from __future__ import annotations

import asyncio
import ssl

import anyio
import pytest
from aiohttp import web

import dingnotify
from dingnotify import Text
from dingnotify.testing import MockResponse
from tests.conftest import (
    APP_KEY,
    APP_SECRET,
    GETTOKEN,
    RESULT,
    SEND,
    TOKEN,
    Scripted,
    client_with,
    local_server,
    ok,
    token_answer,
    tokens_of,
)

BODIES = [
    b"",
    b"not json at all",
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b'{"errcode":0,"task_',
    b"{}",
    b"[]",
    b"null",
    b'{"errcode":"abc"}',
    b'{"errcode":0,"errmsg":"ok"}',
    b'{"errcode":0,"task_id":"x"}',
    b'{"errcode":0,"task_id":null}',
    b'{"errcode":0,"task_id":0}',
    b'{"errcode":0,"task_id":-5}',
    b'{"errcode":88,"sub_code":40014}',
    b'{"status":1111,"wait":5,"source":"x5","punish":"deny"}',
    b"<html><body>punish: deny, please wait 30 seconds</body></html>",
    b"\xff\xfe\x00garbage",
]
NO_WAIT = dingnotify.RetryPolicy(max_attempts=2, rate_limit_attempts=1, base_delay=0.001,
                                 jitter=False)


@pytest.mark.parametrize("body", BODIES)
async def test_malformed_send_response_is_typed(wire: Scripted, body: bytes) -> None:
    wire.route(SEND, MockResponse(content=body))
    async with client_with(wire, agent_id=1, retry=NO_WAIT) as c:
        with anyio.fail_after(5), pytest.raises(dingnotify.DingNotifyError):
            await c.work_notice.send(Text(content="x"), userids=["u"])


@pytest.mark.parametrize(("body", "wait"), [
    (b'{"status":1111,"wait":5,"source":"x5","punish":"deny"}', 5.0),
    (b'{"status":1111,"punish":"deny"}', 300.0),
    (b"<html><body>punish: deny, please wait 30 seconds</body></html>", 30.0),
])
async def test_ip_ban_page_is_a_typed_rate_limit_with_its_wait(
    wire: Scripted, body: bytes, wait: float
) -> None:
    wire.route(SEND, MockResponse(content=body))
    async with client_with(wire, agent_id=1, retry=NO_WAIT) as c:
        with pytest.raises(dingnotify.IPBannedError) as info:
            await c.work_notice.send(Text(content="x"), userids=["u"])
    assert isinstance(info.value, dingnotify.RateLimitedError) and info.value.retryable
    assert info.value.wait == wait
    assert len(wire.sent(SEND)) == 1  # rate_limit_attempts=1


async def test_ip_ban_is_waited_out_then_retried(wire: Scripted) -> None:
    ban = MockResponse(json={"status": 1111, "wait": 0.05, "source": "x5", "punish": "deny"})
    wire.route(SEND, ban, ok(task_id=8))
    async with client_with(wire, agent_id=1) as c:
        started = anyio.current_time()
        assert await c.work_notice.send(Text(content="x"), userids=["u"]) == 8
        assert anyio.current_time() - started >= 0.05
    assert len(wire.sent(SEND)) == 2


@pytest.mark.parametrize("body", [
    b'{"errcode":0,"errmsg":"ok","send_result":{"invalid_user_id_list":5}}',
    b'{"errcode":0,"errmsg":"ok","send_result":{"invalid_dept_id_list":"1,x"}}',
    b'{"errcode":0,"errmsg":"ok","send_result":[]}',
])
async def test_malformed_result_is_typed(wire: Scripted, body: bytes) -> None:
    wire.route(RESULT, MockResponse(content=body))
    async with client_with(wire, agent_id=1) as c:
        with pytest.raises(dingnotify.ResponseDecodeError):
            await c.work_notice.get_result(1)
    assert len(wire.sent(RESULT)) == 1


async def test_forbidden_records_have_every_field_optional(wire: Scripted) -> None:
    wire.route(RESULT, ok(send_result={"forbidden_list": [
        {"count": 1}, {"userid": "u1"}, {"code": 143105}, {"userid": 7, "code": "41047"}]}))
    async with client_with(wire, agent_id=1) as c:
        result = await c.work_notice.get_result(1)
    assert result.forbidden == [
        dingnotify.ForbiddenRecord(userid=None, code=None, count=1),
        dingnotify.ForbiddenRecord(userid="u1", code=None, count=0),
        dingnotify.ForbiddenRecord(userid=None, code="143105", count=0),
        dingnotify.ForbiddenRecord(userid="7", code="41047", count=0),
    ]
    assert result.forbidden_userids == ["u1"]
    assert result.throttled_userids == ["7"]  # 41047: per-minute flow control


async def test_huge_body_is_refused_by_the_default_transport() -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        if request.path == GETTOKEN:
            return web.json_response({"errcode": 0, "access_token": TOKEN, "expires_in": 7200})
        if request.query.get("chunked"):
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(9):
                await response.write(b" " * (1024 * 1024))
            await response.write(b"{}")
            return response
        return web.Response(body=b" " * (9 * 1024 * 1024) + b"{}")

    async with local_server(huge) as url, dingnotify.DingTalkClient(
        APP_KEY, APP_SECRET, agent_id=1, base_url=url, quota=None
    ) as c:
        with pytest.raises(dingnotify.ResponseDecodeError, match=r"exceeds|too large"):
            await c.work_notice.send(Text(content="x"), userids=["u"])
        with pytest.raises(dingnotify.ResponseDecodeError, match=r"exceeds|too large"):
            await c.call(SEND, params={"chunked": "1"})


async def test_gettoken_without_token_is_typed(wire: Scripted) -> None:
    wire.route(GETTOKEN, ok())
    async with client_with(wire, agent_id=1) as c:
        with pytest.raises(dingnotify.ResponseDecodeError):
            await c.work_notice.send(Text(content="x"), userids=["u"])
    assert wire.paths() == [GETTOKEN]


async def test_tls_verification_is_on_by_default() -> None:
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET) as c:
        transport = c._http.transport
        assert isinstance(transport, dingnotify.AiohttpTransport)
        connector = transport.session.connector
        assert connector is not None
        assert connector._ssl is True  # type: ignore[attr-defined]  # True: verify, default context
    context = ssl.create_default_context()
    assert context.verify_mode == ssl.CERT_REQUIRED


async def test_1000_callers_while_token_expires_cause_one_refresh(wire: Scripted) -> None:
    now = [0.0]
    wire.route(GETTOKEN, token_answer("first"), token_answer("second"))
    wire.route(SEND, ok(task_id=1))
    async with client_with(wire, agent_id=1, clock=lambda: now[0]) as c:
        await c.work_notice.send(Text(content="warm"), userids=["u"])
        now[0] = 7200.0  # expired for everyone at once
        await asyncio.gather(*(c.work_notice.send(Text(content=f"{i}"), userids=["u"])
                               for i in range(1000)))
        assert c.token_refreshes == 2
    tokens = tokens_of(wire.sent(SEND))
    assert tokens[0] == "first" and set(tokens[1:]) == {"second"} and len(tokens) == 1001
    assert len(wire.sent(GETTOKEN)) == 2
