"""Bad input fails before any request; secrets never reach messages, reprs or logs."""

from __future__ import annotations

import logging
import re
import traceback

import pytest
from aioresponses import aioresponses

import dingnotify
from dingnotify import Text
from tests.conftest import APP_KEY, APP_SECRET, BASE, TOKEN, mock_token, sent


@pytest.mark.parametrize(
    "kwargs",
    [
        {"userids": [f"u{i}" for i in range(101)]},
        {"dept_ids": list(range(1, 22))},
        {},
        {"userids": []},
        {"userids": ["a,b"]},
        {"userids": [""]},
        {"userids": [123]},
        {"dept_ids": [0]},
        {"dept_ids": [True]},
        {"userids": ["u"], "agent_id": -1},
    ],
)
async def test_bad_send_input_sends_nothing(
    client: dingnotify.DingTalkClient, mocked: aioresponses, kwargs: dict[str, object]
) -> None:
    with pytest.raises(dingnotify.ValidationError):
        await client.work_notice.send(Text(content="x"), **kwargs)  # type: ignore[arg-type]
    assert sent(mocked) == []


async def test_duplicates_do_not_count_toward_the_limit(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    mocked.post(re.compile(r".*/asyncsend_v2.*"), payload={"errcode": 0, "task_id": 3})
    assert await client.work_notice.send(Text(content="x"), userids=["u1"] * 150) == 3


async def test_oversize_message_and_bad_media_send_nothing(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    with pytest.raises(dingnotify.MessageTooLargeError):
        await client.work_notice.send(Text(content="x" * 3000), userids=["u"])
    with pytest.raises(ValueError):
        await client.media.upload(b"x", media_type="gif", filename="a.gif")
    with pytest.raises(dingnotify.ValidationError):
        await client.media.upload(b"", media_type="image", filename="a.png")
    with pytest.raises(dingnotify.ValidationError):
        await client.users.get_by_mobile("not-a-phone")
    with pytest.raises(dingnotify.ValidationError):
        await client.work_notice.get_progress(0)
    assert sent(mocked) == []


async def test_missing_agent_id_is_a_validation_error(mocked: aioresponses) -> None:
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, base_url=BASE) as c:
        with pytest.raises(dingnotify.ValidationError, match="agent_id"):
            await c.work_notice.send(Text(content="x"), userids=["u"])
    assert sent(mocked) == []


async def test_secrets_absent_from_errors_reprs_and_debug_logs(
    mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mock_token(mocked)
    mocked.post(re.compile(r".*/asyncsend_v2.*"), status=500, repeat=True)
    mocked.post(re.compile(r".*/recall.*"), payload={"errcode": 88, "sub_code": "40014",
                                                     "errmsg": "e"}, repeat=True)
    mocked.get(re.compile(r".*/get_by_mobile.*"), exception=OSError("boom"), repeat=True)
    policy = dingnotify.RetryPolicy(max_attempts=2, base_delay=0.001, jitter=False)
    texts: list[str] = []
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                         retry=policy) as c:
        texts.append(repr(c))
        for call in (
            c.work_notice.send(Text(content="x"), userids=["u"]),
            c.work_notice.recall(1),
            c.users.get_by_mobile("13800000000"),
        ):
            with pytest.raises(dingnotify.DingNotifyError) as info:
                await call
            texts.append(str(info.value))
            texts.append(repr(info.value))
            texts.append("".join(traceback.format_exception(info.value)))
    texts.extend(r.getMessage() for r in caplog.records)
    blob = "\n".join(texts)
    assert "access_token=***" in blob  # URLs are logged, redacted
    assert APP_SECRET not in blob
    assert TOKEN not in blob


async def test_gettoken_failure_does_not_leak_secret(
    mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.get(re.compile(r".*/gettoken.*"), status=503, repeat=True)
    policy = dingnotify.RetryPolicy(max_attempts=2, base_delay=0.001, jitter=False)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                         retry=policy) as c:
        with pytest.raises(dingnotify.HTTPStatusError) as info:
            await c.work_notice.send(Text(content="x"), userids=["u"])
    blob = "".join(traceback.format_exception(info.value)) + "".join(
        r.getMessage() for r in caplog.records)
    assert "appsecret=***" in blob
    assert APP_SECRET not in blob


def test_public_names_are_exported() -> None:
    public = {n for n in dir(dingnotify) if not n.startswith("_")}
    modules = {"messages", "models", "crossdomain", "resources", "testing", "top", "broadcast",
               "cli", "webhook", "robot"}
    assert public - modules - {"annotations"} <= set(dingnotify.__all__)
    for name in dingnotify.__all__:
        assert hasattr(dingnotify, name), name
    contract = {"DingTalkClient", "RetryPolicy", "DingNotifyError", "DingTalkError",
                "TransportError", "Text", "Image", "Voice", "File", "Link", "OA", "Markdown",
                "ActionCard"}
    assert contract <= set(dingnotify.__all__)


def test_error_hierarchy_contract() -> None:
    assert issubclass(dingnotify.DingTalkError, dingnotify.DingNotifyError)
    assert issubclass(dingnotify.TransportError, dingnotify.DingNotifyError)
    assert not issubclass(dingnotify.TransportError, dingnotify.DingTalkError)
    assert issubclass(dingnotify.RequestTimeoutError, TimeoutError)
    assert issubclass(dingnotify.ValidationError, ValueError)


async def test_injected_session_is_used_and_left_open(mocked: aioresponses) -> None:
    import aiohttp

    mock_token(mocked)
    mocked.post(re.compile(r".*/asyncsend_v2.*"), payload={"errcode": 0, "task_id": 5})
    async with aiohttp.ClientSession() as session:
        async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                             session=session) as c:
            assert await c.work_notice.send(Text(content="x"), userids=["u"]) == 5
        assert not session.closed


async def test_owned_session_has_explicit_pool_limits() -> None:
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, base_url=BASE,
                                         max_connections=7) as c:
        session = c._transport.session
        connector = session.connector
        assert connector is not None and connector.limit == 7
    assert session.closed


@pytest.mark.parametrize("body", [
    b'{"errcode":0,"access_token":"' + TOKEN.encode() + b'","expires_in":72',
    b'{"errcode":0,"access_token":"' + TOKEN.encode()[:20],
])
async def test_undecodable_token_body_does_not_leak_the_token(
    mocked: aioresponses, body: bytes
) -> None:
    mocked.get(re.compile(r".*/gettoken.*"), body=body, repeat=True)
    async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE) as c:
        with pytest.raises(dingnotify.ResponseDecodeError) as info:
            await c.get_access_token()
    text = str(info.value) + "".join(traceback.format_exception(info.value))
    assert '"access_token":"***' in text
    assert TOKEN[:20] not in text
