"""Single-flight token refresh, refresh-once on token errors, and retry bounds."""

from __future__ import annotations

import asyncio
import re

import pytest
from aioresponses import aioresponses

import dingnotify
from dingnotify import RetryPolicy, Text
from tests.conftest import APP_KEY, APP_SECRET, BASE, mock_token, sent

SEND_RE = re.compile(r".*/asyncsend_v2\?.*")
OK = {"errcode": 0, "errmsg": "ok", "task_id": 1}


def fast(attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, base_delay=0.001, max_delay=0.01, jitter=False)


async def test_200_concurrent_sends_on_cold_client_fetch_one_token(mocked: aioresponses) -> None:
    mock_token(mocked)
    mocked.post(SEND_RE, payload=OK, repeat=True)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE) as c:
        ids = await asyncio.gather(
            *(c.work_notice.send(Text(content=f"m{i}"), userids=["u"]) for i in range(200))
        )
    assert ids == [1] * 200
    assert len(sent(mocked, "/gettoken")) == 1
    assert len(sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")) == 200


async def test_token_error_refreshes_once_and_retries_once(mocked: aioresponses) -> None:
    mock_token(mocked, token="old")
    mock_token(mocked, token="new")
    mocked.post(re.compile(r".*access_token=old.*"),
                payload={"errcode": 88, "sub_code": "40014", "sub_msg": "bad", "errmsg": "e"})
    mocked.post(re.compile(r".*access_token=new.*"), payload=OK)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                         retry=fast()) as c:
        assert await c.work_notice.send(Text(content="x"), userids=["u"]) == 1
        assert c.token_refreshes == 2
    sends = sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")
    assert [u.query["access_token"] for _, u, _ in sends] == ["old", "new"]


async def test_second_token_error_raises(mocked: aioresponses) -> None:
    mock_token(mocked, repeat=True)
    mocked.post(SEND_RE, payload={"errcode": 40014, "errmsg": "不合法的access_token"},
                repeat=True)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                         retry=fast()) as c:
        with pytest.raises(dingnotify.TokenError):
            await c.work_notice.send(Text(content="x"), userids=["u"])
    assert len(sent(mocked, "/gettoken")) == 2
    assert len(sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")) == 2


async def test_token_refreshed_before_expiry_by_clock(mocked: aioresponses) -> None:
    now = [1000.0]
    mock_token(mocked, token="t1", expires_in=7200)
    mock_token(mocked, token="t2", expires_in=7200)
    mocked.post(SEND_RE, payload=OK, repeat=True)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                         clock=lambda: now[0]) as c:
        await c.work_notice.send(Text(content="a"), userids=["u"])
        now[0] += 7200 - 300 - 1  # still inside the margin
        await c.work_notice.send(Text(content="b"), userids=["u"])
        now[0] += 2  # crosses expiry minus the 5-minute margin
        await c.work_notice.send(Text(content="c"), userids=["u"])
    tokens = [u.query["access_token"] for _, u, _ in
              sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")]
    assert tokens == ["t1", "t1", "t2"]


async def test_missing_expires_in_falls_back_to_7200(mocked: aioresponses) -> None:
    now = [0.0]
    mocked.get(re.compile(r".*/gettoken.*"), payload={"errcode": 0, "access_token": "t",
                                                      "expires_in": 0}, repeat=True)
    mocked.post(SEND_RE, payload=OK, repeat=True)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                         clock=lambda: now[0]) as c:
        await c.work_notice.send(Text(content="a"), userids=["u"])
        now[0] = 6800.0
        await c.work_notice.send(Text(content="b"), userids=["u"])
        now[0] = 6901.0
        await c.work_notice.send(Text(content="c"), userids=["u"])
        assert c.token_refreshes == 2


async def test_rate_limit_retried_with_backoff_then_raised(
    mocked: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def record(delay: float) -> None:
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr("dingnotify._transport.asyncio.sleep", record)
    mock_token(mocked)
    mocked.post(SEND_RE, payload={"errcode": 90018, "errmsg": "qps"}, repeat=True)
    policy = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=8.0, jitter=False)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                         retry=policy) as c:
        with pytest.raises(dingnotify.RateLimitedError) as info:
            await c.work_notice.send(Text(content="x"), userids=["u"])
    assert info.value.errcode == 90018
    assert len(sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")) == 3
    assert waits == [1.0, 1.0]  # QPS windows are 1 s: never wait less than that


async def test_rate_limit_then_success(client: dingnotify.DingTalkClient,
                                       mocked: aioresponses) -> None:
    mock_token(mocked)
    mocked.post(SEND_RE, payload={"errcode": 88, "sub_code": "90018", "errmsg": "e"})
    mocked.post(SEND_RE, status=503)
    mocked.post(SEND_RE, payload={"errcode": -1, "errmsg": "busy"})
    mocked.post(SEND_RE, payload=OK)
    assert await client.work_notice.send(Text(content="x"), userids=["u"]) == 1
    assert len(sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")) == 4


@pytest.mark.parametrize("errcode", [40096, 40089])
async def test_bad_credentials_never_retried(mocked: aioresponses, errcode: int) -> None:
    mocked.get(re.compile(r".*/gettoken.*"), payload={"errcode": errcode, "errmsg": "bad"},
               repeat=True)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                         retry=fast()) as c:
        with pytest.raises(dingnotify.CredentialsError):
            await c.work_notice.send(Text(content="x"), userids=["u"])
    assert len(sent(mocked, "/gettoken")) == 1


async def test_invalid_argument_never_retried(client: dingnotify.DingTalkClient,
                                              mocked: aioresponses) -> None:
    mock_token(mocked)
    mocked.post(SEND_RE, payload={"errcode": 40035, "errmsg": "缺少参数"}, repeat=True)
    with pytest.raises(dingnotify.InvalidArgumentError):
        await client.work_notice.send(Text(content="x"), userids=["u"])
    assert len(sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")) == 1


async def test_http_errors_and_bad_bodies_are_transport_errors(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    mocked.post(SEND_RE, status=502, repeat=True)
    with pytest.raises(dingnotify.HTTPStatusError) as info:
        await client.work_notice.send(Text(content="x"), userids=["u"])
    assert info.value.status == 502 and not isinstance(info.value, dingnotify.DingTalkError)
    assert len(sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")) == 4


async def test_html_body_is_decode_error_not_retried(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    mocked.post(SEND_RE, body="<html>oops</html>", repeat=True)
    with pytest.raises(dingnotify.ResponseDecodeError):
        await client.work_notice.send(Text(content="x"), userids=["u"])
    assert len(sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")) == 1


async def test_timeout_is_transport_and_builtin_timeout(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    mocked.post(SEND_RE, exception=TimeoutError(), repeat=True)
    with pytest.raises(TimeoutError) as info:
        await client.work_notice.send(Text(content="x"), userids=["u"])
    assert isinstance(info.value, dingnotify.RequestTimeoutError)
    assert isinstance(info.value, dingnotify.TransportError)


def test_retry_policy_delays() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, jitter=False)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    jittered = RetryPolicy(base_delay=0.5, max_delay=8.0)
    assert all(1.0 <= jittered.delay(3) <= 2.0 for _ in range(50))
    retry_after = dingnotify.HTTPStatusError(429, "x", retry_after=3.0)
    assert policy.delay(1, retry_after) == 3.0
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)

