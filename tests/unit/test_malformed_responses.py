"""Malformed server answers become typed errors, never another exception type or a hang."""

from __future__ import annotations

import asyncio
import re
import ssl

import pytest
from aioresponses import aioresponses

import dingnotify
from dingnotify import Text
from tests.conftest import APP_KEY, APP_SECRET, BASE, mock_token

SEND_RE = re.compile(r".*/asyncsend_v2.*")
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
    b'{"errcode":88,"sub_code":40014}',
    b'{"status":1111,"wait":5,"source":"x5","punish":"deny"}',
    b"\xff\xfe\x00garbage",
]


@pytest.mark.parametrize("body", BODIES)
async def test_malformed_send_response_is_typed(mocked: aioresponses, body: bytes) -> None:
    mock_token(mocked, repeat=True)
    mocked.post(SEND_RE, body=body, repeat=True)
    policy = dingnotify.RetryPolicy(max_attempts=2, base_delay=0.001, jitter=False)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                         retry=policy) as c:
        with pytest.raises(dingnotify.DingNotifyError):
            await asyncio.wait_for(c.work_notice.send(Text(content="x"), userids=["u"]), 5)


@pytest.mark.parametrize("body", [
    b'{"errcode":0,"errmsg":"ok","send_result":{"invalid_user_id_list":5}}',
    b'{"errcode":0,"errmsg":"ok","send_result":{"invalid_dept_id_list":"1,x"}}',
    b'{"errcode":0,"errmsg":"ok","send_result":{"forbidden_list":[{"count":1}]}}',
    b'{"errcode":0,"errmsg":"ok","send_result":[]}',
])
async def test_malformed_result_is_typed(mocked: aioresponses, body: bytes) -> None:
    mock_token(mocked)
    mocked.post(re.compile(r".*/getsendresult.*"), body=body)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE) as c:
        with pytest.raises(dingnotify.ResponseDecodeError):
            await c.work_notice.get_result(1)


async def test_huge_body_is_refused(mocked: aioresponses) -> None:
    mock_token(mocked)
    mocked.post(SEND_RE, body=b" " * (9 * 1024 * 1024) + b"{}")
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE) as c:
        with pytest.raises(dingnotify.ResponseDecodeError, match=r"exceeds|too large"):
            await c.work_notice.send(Text(content="x"), userids=["u"])


async def test_gettoken_without_token_is_typed(mocked: aioresponses) -> None:
    mocked.get(re.compile(r".*/gettoken.*"), payload={"errcode": 0, "errmsg": "ok"})
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE) as c:
        with pytest.raises(dingnotify.ResponseDecodeError):
            await c.work_notice.send(Text(content="x"), userids=["u"])


async def test_tls_verification_is_on_by_default() -> None:
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, base_url=BASE) as c:
        connector = c._transport.session.connector
        assert connector is not None
        assert connector._ssl is True  # aiohttp: True = verify with the default context
    context = ssl.create_default_context()
    assert context.verify_mode == ssl.CERT_REQUIRED


async def test_1000_callers_while_token_expires_cause_one_refresh(mocked: aioresponses) -> None:
    now = [0.0]
    mock_token(mocked, token="first")
    mock_token(mocked, token="second")
    mocked.post(SEND_RE, payload={"errcode": 0, "task_id": 1}, repeat=True)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                         clock=lambda: now[0]) as c:
        await c.work_notice.send(Text(content="warm"), userids=["u"])
        now[0] = 7200.0  # expired for everyone at once
        await asyncio.gather(*(c.work_notice.send(Text(content=f"{i}"), userids=["u"])
                               for i in range(1000)))
        assert c.token_refreshes == 2
    tokens = [k[1].query["access_token"] for k in mocked.requests if k[1].path.endswith("_v2")]
    assert tokens == ["first", "second"]  # keys are distinct URLs: one per token
