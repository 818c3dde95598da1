"""Bad input fails before any request; secrets never reach messages, reprs or logs;
redirects are never followed; a closed client refuses calls."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from functools import partial

import aiohttp
import pytest
from aiohttp import web

import dingnotify
from dingnotify import Text
from dingnotify.testing import MockRequest, MockResponse, MockTransport
from tests.conftest import (
    APP_KEY,
    APP_SECRET,
    BASE,
    GETTOKEN,
    RECALL,
    SEND,
    TOKEN,
    Scripted,
    client_with,
    err,
    local_server,
    ok,
    token_answer,
)


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
        {"userids": "u000001"},
        {"userids": b"u000001"},
        {"dept_ids": "12"},
        {"dept_ids": [0]},
        {"dept_ids": [True]},
        {"userids": ["u"], "agent_id": -1},
    ],
)
async def test_bad_send_input_sends_nothing(
    client: dingnotify.DingTalkClient, wire: Scripted, kwargs: dict[str, object]
) -> None:
    with pytest.raises(dingnotify.ValidationError):
        await client.work_notice.send(Text(content="x"), **kwargs)  # type: ignore[arg-type]
    assert wire.sent() == []


@pytest.mark.parametrize("userids", ["u000001", b"u1", "u1,u2"])
async def test_one_string_as_userids_is_rejected_by_broadcast_too(
    client: dingnotify.DingTalkClient, wire: Scripted, userids: object
) -> None:
    with pytest.raises(dingnotify.ValidationError, match="not one string"):
        await client.work_notice.broadcast(Text(content="x"),
                                           userids=userids)  # type: ignore[arg-type]
    assert wire.sent() == []


async def test_duplicates_do_not_count_toward_the_limit(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(SEND, ok(task_id=3))
    assert await client.work_notice.send(Text(content="x"), userids=["u1"] * 150) == 3
    assert wire.sent(SEND)[0].json["userid_list"] == "u1"


async def test_per_call_limits_come_from_the_quota(wire: Scripted) -> None:
    wire.route(SEND, ok(task_id=4))
    quota = dingnotify.Quota(userids_per_call=5000, dept_ids_per_call=500)
    users = [f"u{i}" for i in range(5000)]
    async with client_with(wire, quota=quota) as c:
        assert await c.work_notice.send(Text(content="x"), userids=users,
                                        dept_ids=range(1, 501)) == 4
        with pytest.raises(dingnotify.ValidationError):
            await c.work_notice.send(Text(content="x"), userids=[*users, "one-more"])
    assert len(wire.sent(SEND)) == 1
    assert wire.sent(SEND)[0].json["userid_list"] == ",".join(users)


async def test_oversize_message_and_bad_media_send_nothing(
    client: dingnotify.DingTalkClient, wire: Scripted
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
    assert wire.sent() == []


async def test_missing_agent_id_is_a_validation_error(wire: Scripted) -> None:
    async with client_with(wire, agent_id=None) as c:
        with pytest.raises(dingnotify.ValidationError, match="agent_id"):
            await c.work_notice.send(Text(content="x"), userids=["u"])
    assert wire.sent() == []


async def failure(call: Callable[[], Awaitable[object]]) -> dingnotify.DingNotifyError:
    """Run ``call`` and return its error; this frame holds no credential, so a traceback
    with locals shows only what the client's own frames hold."""
    try:
        await call()
    except dingnotify.DingNotifyError as exc:
        return exc
    raise AssertionError("the call succeeded")


def shown(exc: BaseException) -> str:
    """Everything a traceback with locals, a log line or a debugger would show of ``exc``."""
    return "".join(traceback.TracebackException.from_exception(
        exc, capture_locals=True).format()) + repr(exc) + str(exc)


async def test_secrets_absent_from_errors_reprs_and_debug_logs(
    wire: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wire.route(SEND, MockResponse(500))
    wire.route(RECALL, err(88, sub_code="40014"))
    wire.route("/user/get_by_mobile", OSError("boom"))
    wire.route(
        "/topapi/message/corpconversation/getsendprogress",
        err(40035, f"bad access_token {TOKEN} for appsecret {APP_SECRET}",
            sub_msg=f"token={TOKEN}", sub_code="40035"),
    )
    wire.route("/topapi/message/corpconversation/getsendresult", TimeoutError())
    policy = dingnotify.RetryPolicy(max_attempts=2, base_delay=0.001, jitter=False)
    texts: list[str] = []
    calls: list[Callable[[dingnotify.DingTalkClient], Awaitable[object]]] = [
        lambda c: c.work_notice.send(Text(content="x"), userids=["u"]),
        lambda c: c.work_notice.recall(1),
        lambda c: c.users.get_by_mobile("13800000000"),
        lambda c: c.work_notice.get_result(1),
    ]
    echoing: list[Callable[[dingnotify.DingTalkClient], Awaitable[object]]] = [
        lambda c: c.work_notice.get_progress(1),
        lambda c: c.call("/topapi/message/corpconversation/getsendprogress", json={}),
    ]
    async with client_with(wire, retry=policy) as c:
        texts.append(repr(c))
        for call in calls:
            texts.append(shown(await failure(partial(call, c))))
        for call in echoing:  # the message and repr are masked (locals: see below)
            error = await failure(partial(call, c))
            texts.extend([str(error), repr(error), "".join(traceback.format_exception(error))])
    texts.extend(r.getMessage() for r in caplog.records)
    blob = "\n".join(texts)
    assert "access_token=***" in blob  # URLs are logged, redacted
    assert "bad access_token ***" in blob  # the echoed errmsg is kept, masked
    assert APP_SECRET not in blob
    assert TOKEN not in blob


async def test_gettoken_failure_does_not_leak_secret(
    wire: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wire.route(GETTOKEN, MockResponse(503))
    policy = dingnotify.RetryPolicy(max_attempts=2, base_delay=0.001, jitter=False)
    async with client_with(wire, retry=policy) as c:
        error = await failure(lambda: c.work_notice.send(Text(content="x"), userids=["u"]))
    assert isinstance(error, dingnotify.HTTPStatusError)
    blob = shown(error) + "".join(r.getMessage() for r in caplog.records)
    assert "appsecret=***" in blob
    assert APP_SECRET not in blob




async def test_server_echoing_credentials_shows_them_in_no_frame_local(wire: Scripted) -> None:
    wire.route(SEND, err(40035, f"bad access_token {TOKEN} for appsecret {APP_SECRET}"))
    async with client_with(wire) as c:
        error = await failure(lambda: c.work_notice.send(Text(content="x"), userids=["u"]))
        assert APP_SECRET not in str(error) and TOKEN not in str(error)
        assert "bad access_token ***" in str(error)
        called = await failure(lambda: c.call(SEND, json={}))
        assert APP_SECRET not in repr(called) and TOKEN not in repr(called)


async def test_server_echoing_credentials_with_locals(wire: Scripted) -> None:
    wire.route(SEND, err(40035, f"bad access_token {TOKEN} for appsecret {APP_SECRET}"))
    async with client_with(wire) as c:
        error = await failure(lambda: c.work_notice.send(Text(content="x"), userids=["u"]))
    text = shown(error)
    assert APP_SECRET not in text and TOKEN not in text


@pytest.mark.parametrize("answer", [
    pytest.param(err(40089, f"invalid appsecret {APP_SECRET}")),
    pytest.param(MockResponse(content=b'{"errcode":0,"access_token":"' + TOKEN.encode()
                              + b'","exp')),
    MockResponse(503),
    err(40089, "invalid appsecret"),
    TimeoutError(),
    ConnectionResetError(f"reset while sending appsecret={APP_SECRET}"),
])
async def test_gettoken_errors_show_neither_secret_nor_token(
    wire: Scripted, answer: MockResponse | BaseException
) -> None:
    wire.route(GETTOKEN, answer)
    del answer  # the parameter itself holds the secrets: keep it out of this frame
    async with client_with(wire, retry=dingnotify.RetryPolicy.none()) as c:
        error = await failure(lambda: c.work_notice.send(Text(content="x"), userids=["u"]))
    text = shown(error)
    assert APP_SECRET not in text and TOKEN not in text


async def test_token_with_query_characters_travels_as_one_value(wire: Scripted) -> None:
    odd = "tok&agent_id=666#x"
    wire.route(GETTOKEN, token_answer(odd))
    wire.route(SEND, ok(task_id=1))
    async with client_with(wire) as c:
        await c.work_notice.send(Text(content="x"), userids=["u"])
    request = wire.sent(SEND)[0]
    assert request.url.query["access_token"] == odd
    assert list(request.url.query) == ["access_token"]
    assert "agent_id" not in request.url.query and request.url.fragment == ""
    assert request.json["agent_id"] == 123


async def test_error_echoing_an_odd_token_is_masked(wire: Scripted) -> None:
    wire.route(GETTOKEN, token_answer("tok&agent_id=666#x-SECRET"))
    wire.route(SEND, err(40035, "bad request access_token=tok&agent_id=666#x-SECRET"))
    async with client_with(wire) as c:
        error = await failure(lambda: c.work_notice.send(Text(content="x"), userids=["u"]))
    assert isinstance(error, dingnotify.InvalidArgumentError)
    assert "x-SECRET" not in str(error) and "x-SECRET" not in repr(error)
    assert "x-SECRET" not in "".join(traceback.format_exception(error))


def test_public_names_are_exported() -> None:
    public = {n for n in dir(dingnotify) if not n.startswith("_")}
    modules = {"messages", "models", "crossdomain", "resources", "testing", "top", "broadcast",
               "cli", "webhook", "robot", "redis", "users", "work_notice", "impaas", "media",
               "sync", "cards", "stream", "relay"}
    assert public - modules - {"annotations"} <= set(dingnotify.__all__)
    for name in dingnotify.__all__:
        assert hasattr(dingnotify, name), name
    contract = {"DingTalkClient", "RetryPolicy", "DingNotifyError", "DingTalkError",
                "TransportError", "Text", "Image", "Voice", "File", "Link", "OA", "Markdown",
                "ActionCard", "BroadcastReport", "BroadcastEvent", "Batch",
                "DeliveryTimeoutError", "QuotaExhaustedError", "IPBannedError",
                "ClientClosedError", "RedirectError", "Quota", "LippiContentType"}
    assert contract <= set(dingnotify.__all__)
    for private in ("send_body", "on_retry", "parse_response", "LyService", "ContentType",
                    "encode_userids"):
        assert private not in dingnotify.__all__
        assert not hasattr(dingnotify, private), private
    from dingnotify import top

    for private in ("sign", "parse_response", "LyService"):
        assert not hasattr(top, private), private


def test_error_hierarchy_contract() -> None:
    assert issubclass(dingnotify.DingTalkError, dingnotify.DingNotifyError)
    assert issubclass(dingnotify.TransportError, dingnotify.DingNotifyError)
    assert not issubclass(dingnotify.TransportError, dingnotify.DingTalkError)
    assert issubclass(dingnotify.RequestTimeoutError, TimeoutError)
    assert issubclass(dingnotify.ValidationError, ValueError)
    assert issubclass(dingnotify.QuotaExhaustedError, dingnotify.RateLimitedError)
    assert issubclass(dingnotify.IPBannedError, dingnotify.RateLimitedError)
    assert issubclass(dingnotify.DeliveryTimeoutError, TimeoutError)
    assert issubclass(dingnotify.RedirectError, dingnotify.HTTPStatusError)
    # A cancel is not a timeout, and not worth a retry.
    assert not issubclass(dingnotify.BroadcastCancelledError, TimeoutError)
    assert not issubclass(dingnotify.BroadcastCancelledError, dingnotify.TransportError)
    d = dingnotify
    retried: set[type[d.DingNotifyError]] = {
        d.RateLimitedError, d.ServerBusyError, d.ServerError, d.TooManyRequestsError,
        d.ConnectionFailedError, d.RequestTimeoutError, d.TopBusyError, d.IPBannedError}
    never: set[type[d.DingNotifyError]] = {
        d.QuotaExhaustedError, d.RedirectError, d.HTTPStatusError, d.CredentialsError,
        d.ResponseDecodeError, d.BroadcastCancelledError, d.BroadcastTimeoutError,
        d.DeliveryTimeoutError, d.ValidationError, d.TokenError, d.ClientClosedError,
        d.InvalidArgumentError, d.PermissionDeniedError, d.NotFoundError, d.TopError}
    assert all(cls.retryable for cls in retried)
    assert not any(cls.retryable for cls in never)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirects_are_refused_not_followed_nor_retried(
    wire: Scripted, status: int
) -> None:
    wire.route(SEND, MockResponse(status, headers={"Location": "https://evil.test/steal"}))
    async with client_with(wire) as c:
        with pytest.raises(dingnotify.RedirectError) as info:
            await c.work_notice.send(Text(content="x"), userids=["u"])
    assert info.value.status == status and not info.value.retryable
    assert [r.url.host for r in wire.sent()] == ["oapi.test", "oapi.test"]
    assert len(wire.sent(SEND)) == 1
    assert TOKEN not in shown(info.value)


async def test_default_transport_does_not_follow_redirects() -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path == GETTOKEN:
            return web.json_response({"errcode": 0, "access_token": TOKEN, "expires_in": 7200})
        if request.path == "/stolen":
            return web.json_response({"errcode": 0, "task_id": 1})
        raise web.HTTPFound("/stolen")

    async with local_server(handler) as url, dingnotify.DingTalkClient(
        APP_KEY, APP_SECRET, agent_id=1, base_url=url, quota=None
    ) as c:
        with pytest.raises(dingnotify.RedirectError):
            await c.work_notice.send(Text(content="x"), userids=["u"])
    assert seen == [GETTOKEN, SEND]


async def test_closed_client_refuses_calls(wire: Scripted) -> None:
    wire.route(SEND, ok(task_id=1))
    transport = MockTransport(wire)
    c = dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE,
                                  transport=transport, quota=None)
    async with c:
        assert await c.work_notice.send(Text(content="x"), userids=["u"]) == 1
    assert transport.closed
    for call in (c.work_notice.send(Text(content="x"), userids=["u"]),
                 c.call("/x"), c.get_access_token()):
        with pytest.raises(dingnotify.ClientClosedError):
            await call
    await c.aclose()  # idempotent
    assert len(wire.sent()) == 2


async def test_aclose_lets_a_call_in_flight_finish(wire: Scripted) -> None:
    import anyio

    started = anyio.Event()

    async def slow(request: MockRequest) -> MockResponse:
        started.set()
        await anyio.sleep(0.05)
        return ok(task_id=9)

    wire.route(SEND, slow)
    c = client_with(wire)
    results: list[int] = []

    async def send() -> None:
        results.append(await c.work_notice.send(Text(content="x"), userids=["u"]))

    async with anyio.create_task_group() as tg:
        tg.start_soon(send)
        await started.wait()
        await c.aclose()
    assert results == [9]


async def test_injected_session_is_used_and_left_open() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == GETTOKEN:
            return web.json_response({"errcode": 0, "access_token": TOKEN, "expires_in": 7200})
        return web.json_response({"errcode": 0, "task_id": 5})

    async with local_server(handler) as url, aiohttp.ClientSession() as session:
        async with dingnotify.DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=url,
                                             session=session, quota=None) as c:
            assert await c.work_notice.send(Text(content="x"), userids=["u"]) == 5
        assert not session.closed
    with pytest.raises(dingnotify.ValidationError):
        dingnotify.DingTalkClient(APP_KEY, APP_SECRET, session=session,
                                  transport=MockTransport(Scripted()))


async def test_owned_session_has_explicit_pool_limits() -> None:
    async with dingnotify.DingTalkClient(
            APP_KEY, APP_SECRET, base_url=BASE,
            connector=dingnotify.ConnectorOptions(max_connections=7)) as c:
        transport = c._http.transport
        assert isinstance(transport, dingnotify.AiohttpTransport)
        session = transport.session
        connector = session.connector
        assert connector is not None and connector.limit == 7
    assert session.closed


@pytest.mark.parametrize("body", [
    b'{"errcode":0,"access_token":"' + TOKEN.encode() + b'","expires_in":72',
    b'{"errcode":0,"access_token":"' + TOKEN.encode()[:20],
])
async def test_undecodable_token_body_does_not_leak_the_token(
    wire: Scripted, body: bytes
) -> None:
    wire.route(GETTOKEN, MockResponse(content=body))
    del body
    async with client_with(wire) as c:
        error = await failure(c.get_access_token)
    assert isinstance(error, dingnotify.ResponseDecodeError)
    text = str(error) + repr(error) + "".join(traceback.format_exception(error))
    assert '"access_token":"***' in text
    assert TOKEN[:20] not in text


def test_a_client_belongs_to_one_event_loop(wire: Scripted) -> None:
    wire.route(SEND, ok(task_id=1))
    c = client_with(wire)

    async def send() -> int:
        return await c.work_notice.send(Text(content="x"), userids=["u"])

    assert asyncio.run(send()) == 1
    with pytest.raises(dingnotify.DingNotifyError, match="event loop"):
        asyncio.run(send())
    assert len(wire.sent(SEND)) == 1


async def test_requests_show_no_credentials(wire: Scripted) -> None:
    wire.route(SEND, ok(task_id=1))
    async with client_with(wire) as c:
        await c.work_notice.send(Text(content="x"), userids=["u"])
    token_request, send_request = wire.sent()
    for request in (token_request, send_request):
        assert APP_SECRET not in repr(request) and TOKEN not in repr(request)
        assert APP_SECRET not in str(request) and TOKEN not in str(request)
    assert "appsecret=***" in repr(token_request)
    assert "access_token=***" in repr(send_request)
