"""The exact request each endpoint sends, and how each response is parsed."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Awaitable, Callable

import anyio
import pytest

import dingnotify
from dingnotify import (
    CrossDomainMessage,
    MessageReceiverScope,
    SendMessageModel,
    SendResult,
    Text,
)
from dingnotify.testing import MockRequest, MockResponse
from tests.conftest import (
    GETTOKEN,
    PROGRESS,
    RECALL,
    RESULT,
    SEND,
    STATUS_BAR,
    TOKEN,
    Scripted,
    client_with,
    err,
    ok,
    token_answer,
    tokens_of,
)
from tests.unit.test_messages import CASES as MESSAGE_CASES

GET_BY_MOBILE = "/user/get_by_mobile"
GET_BY_MOBILE_V2 = "/topapi/v2/user/getbymobile"
MEDIA = "/media/upload"
CROSSDOMAIN = "/topapi/dingtalk/impaas/message/crossdomain/send"


def only(wire: Scripted, path: str) -> MockRequest:
    (request,) = wire.sent(path)
    return request


async def test_gettoken_then_send_exact_wire(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(SEND, ok(task_id=9326688016, request_id="abc"))
    task_id = await client.work_notice.send(
        Text(content="hi"), userids=["u1", "u2", "u1"], dept_ids=[10], to_all_user=False
    )
    assert task_id == 9326688016
    calls = wire.sent()
    assert [(r.method, r.url.path) for r in calls] == [("GET", GETTOKEN), ("POST", SEND)]
    assert dict(calls[0].url.query) == {"appkey": "unit-app-key",
                                        "appsecret": "unit-app-secret-S3CR3T"}
    request = calls[1]
    assert dict(request.url.query) == {"access_token": TOKEN}
    assert request.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert request.json == {
        "agent_id": 123,
        "msg": {"msgtype": "text", "text": {"content": "hi"}},
        "userid_list": "u1,u2",
        "dept_id_list": "10",
    }


async def test_to_all_user_and_per_call_agent_id(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(SEND, ok(task_id=7))
    await client.work_notice.send(Text(content="all"), to_all_user=True, agent_id=999)
    body = only(wire, SEND).json
    assert body == {"agent_id": 999, "to_all_user": True,
                    "msg": {"msgtype": "text", "text": {"content": "all"}}}


async def test_get_by_mobile_query(client: dingnotify.DingTalkClient, wire: Scripted) -> None:
    wire.route(GET_BY_MOBILE, ok(userid="zhangsan"))
    assert await client.users.get_by_mobile("13800000000") == "zhangsan"
    request = only(wire, GET_BY_MOBILE)
    assert request.method == "GET" and request.content is None
    assert dict(request.url.query) == {"access_token": TOKEN, "mobile": "13800000000"}


async def test_get_by_mobile_unknown_raises_not_found(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(GET_BY_MOBILE, err(60121, "找不到该用户"))
    with pytest.raises(dingnotify.NotFoundError) as info:
        await client.users.get_by_mobile("13800000001")
    assert info.value.errcode == 60121 and info.value.errmsg == "找不到该用户"


async def test_get_by_mobile_v2(client: dingnotify.DingTalkClient, wire: Scripted) -> None:
    wire.route(GET_BY_MOBILE_V2, ok(request_id="r1", result={
        "userid": "u9", "exclusive_account_userid_list": ["x1"]}))
    found = await client.users.get_by_mobile_v2("13800000000",
                                                support_exclusive_account_search=True)
    assert found.userid == "u9" and found.exclusive_account_userids == ["x1"]
    body = only(wire, GET_BY_MOBILE_V2).json
    assert body == {"mobile": "13800000000", "support_exclusive_account_search": True}


async def test_progress_result_recall_status_bar_bodies(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(PROGRESS, ok(progress={"progress_in_percent": 40, "status": 1}))
    wire.route(RESULT, ok(send_result={
                    "invalid_user_id_list": ["bad"], "forbidden_user_id_list": ["f1"],
                    "failed_user_id_list": [], "read_user_id_list": ["r1", "r2"],
                    "unread_user_id_list": ["x"], "invalid_dept_id_list": [77],
                    "forbidden_list": [{"code": "143105", "count": 1, "userid": "f1"}]}))
    wire.route(RECALL, ok())
    wire.route(STATUS_BAR, ok())

    progress = await client.work_notice.get_progress(55)
    assert (progress.percent, progress.status, progress.done) == (40, 1, False)
    result = await client.work_notice.get_result(55)
    assert result == SendResult(
        invalid_userids=["bad"], forbidden_userids=["f1"], read_userids=["r1", "r2"],
        unread_userids=["x"], invalid_dept_ids=[77],
        forbidden=[dingnotify.ForbiddenRecord(userid="f1", code="143105", count=1)],
    )
    await client.work_notice.recall(55)
    await client.work_notice.update_status_bar(55, "done", status_bg="0xFF78C06E")

    assert wire.paths() == [GETTOKEN, PROGRESS, RESULT, RECALL, STATUS_BAR]
    assert all(r.method == "POST" for r in wire.sent()[1:])
    assert only(wire, PROGRESS).json == {"agent_id": 123, "task_id": 55}
    assert only(wire, RESULT).json == {"agent_id": 123, "task_id": 55}
    assert only(wire, RECALL).json == {"agent_id": 123, "msg_task_id": 55}
    assert only(wire, STATUS_BAR).json == {"agent_id": 123, "task_id": 55, "status_value": "done",
                               "status_bg": "0xFF78C06E"}


async def test_send_result_accepts_seed_comma_strings(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(RESULT, ok(send_result={
        "invalid_user_id_list": "zhangsan,lisi", "read_user_id_list": "",
        "invalid_dept_id_list": "1,2,3"}))
    result = await client.work_notice.get_result(1)
    assert result.invalid_userids == ["zhangsan", "lisi"]
    assert result.read_userids == [] and result.unread_userids == []
    assert result.invalid_dept_ids == [1, 2, 3]


async def test_media_upload_multipart(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(MEDIA, ok(type="image", media_id="@lADPimg", created_at=1726589815213))
    media_id = await client.media.upload(b"\x89PNG...", media_type="image", filename="a.png")
    assert media_id == "@lADPimg"
    request = only(wire, MEDIA)
    assert request.method == "POST"
    assert dict(request.url.query) == {"access_token": TOKEN, "type": "image"}
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert request.content is not None
    form = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.content,
        policy=email.policy.HTTP,
    )
    parts = list(form.iter_parts())
    assert len(parts) == 1
    part = parts[0]
    assert part.get_param("name", header="content-disposition") == "media"
    assert part.get_filename() == "a.png"
    assert part.get_content_type() == "image/png"
    assert part.get_payload(decode=True) == b"\x89PNG..."


async def test_crossdomain_send_wire(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(CROSSDOMAIN, ok(errmsg="", request_id="rq"))
    msg = CrossDomainMessage(
        sender="1001@domain", message_id="321443",
        send_message_model=SendMessageModel(conversation_type=1, uuid="fdsfdfd", content_type=1,
                                            content={"content": "test"},
                                            cid="1011@domain:@domain$1@G"),
        message_receiver_scope_model=MessageReceiverScope(actual_receivers=("uid",)),
        new_conversation_notification_off=True,
    )
    assert await client.impaas.send_crossdomain(msg) == "rq"
    body = only(wire, CROSSDOMAIN).json
    assert body == {"crossdomain_message_send_model": {
        "sender": "1001@domain", "message_id": "321443",
        "send_message_model": {"conversation_type": 1, "uuid": "fdsfdfd", "content_type": 1,
                               "content": '{"content":"test"}',
                               "cid": "1011@domain:@domain$1@G"},
        "message_receiver_scope_model": {"actual_receivers": ["uid"]},
        "new_conversation_notification_off": True}}


@pytest.mark.parametrize(
    ("payload", "cls", "effective"),
    [
        ({"errcode": 88, "sub_code": "40014", "sub_msg": "不合法的access_token",
          "errmsg": "ding talk error[subcode=40014]", "request_id": "16l4ew3d47pdp"},
         dingnotify.TokenError, 40014),
        ({"errcode": 88, "sub_code": "60011", "sub_msg": "no scope", "errmsg": "e",
          "request_id": "r"}, dingnotify.PermissionDeniedError, 60011),
        ({"errcode": 40035, "errmsg": "缺少参数"}, dingnotify.InvalidArgumentError, 40035),
        ({"errcode": 12345, "errmsg": "strange"}, dingnotify.DingTalkError, 12345),
    ],
)
async def test_error_envelopes_map_to_classes(
    client: dingnotify.DingTalkClient, wire: Scripted, payload: dict[str, object],
    cls: type[dingnotify.DingTalkError], effective: int,
) -> None:
    wire.route(RECALL, MockResponse(json=payload))
    with pytest.raises(cls) as info:
        await client.work_notice.recall(5)
    error = info.value
    assert type(error) is cls
    assert error.errcode == payload["errcode"] and error.effective_code == effective
    assert error.request_id == payload.get("request_id")
    assert error.sub_code == payload.get("sub_code")


@pytest.mark.parametrize(("message", "expected"), MESSAGE_CASES, ids=lambda v: type(v).__name__)
async def test_send_carries_every_message_type_exactly(
    client: dingnotify.DingTalkClient, wire: Scripted, message: object,
    expected: dict[str, object],
) -> None:
    wire.route(SEND, ok(task_id=11))
    await client.work_notice.send(message, userids=["u1"])  # type: ignore[arg-type]
    body = only(wire, SEND).json
    assert body == {"agent_id": 123, "userid_list": "u1", "msg": expected}


# --- client.call: any oapi endpoint with the client's token, retries and errors ---

async def test_call_posts_json_and_returns_the_whole_answer(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route("/topapi/v2/department/listsub", ok(result=[{"dept_id": 2}], request_id="q"))
    answer = await client.call("/topapi/v2/department/listsub", json={"dept_id": 1})
    assert answer == {"errcode": 0, "errmsg": "ok", "result": [{"dept_id": 2}],
                      "request_id": "q"}
    request = only(wire, "/topapi/v2/department/listsub")
    assert request.method == "POST" and request.json == {"dept_id": 1}
    assert request.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert dict(request.url.query) == {"access_token": TOKEN}


async def test_call_get_with_params(client: dingnotify.DingTalkClient, wire: Scripted) -> None:
    wire.route("/user/get", ok(userid="u1", name="张三"))
    answer = await client.call("/user/get", params={"userid": "u1", "language": "zh_CN"})
    assert answer["name"] == "张三"
    request = only(wire, "/user/get")
    assert request.method == "GET" and request.content is None
    assert dict(request.url.query) == {"access_token": TOKEN, "userid": "u1",
                                       "language": "zh_CN"}
    await client.call("/user/get", json={"userid": "u1"}, method="GET")
    assert wire.sent("/user/get")[-1].method == "GET"


async def test_call_raises_typed_errors_and_retries_per_policy(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route("/x", err(60011, "no scope"))
    with pytest.raises(dingnotify.PermissionDeniedError):
        await client.call("/x", json={})
    assert len(wire.sent("/x")) == 1
    wire.route("/y", MockResponse(503), err(-1, "busy"), ok(v=1))
    assert (await client.call("/y", json={}))["v"] == 1
    assert len(wire.sent("/y")) == 3
    wire.route("/z", MockResponse(503))
    with pytest.raises(dingnotify.ServerError):
        await client.call("/z", retry=dingnotify.RetryPolicy.none())
    assert len(wire.sent("/z")) == 1


async def test_call_refreshes_a_rejected_token_once(wire: Scripted) -> None:
    wire.route(GETTOKEN, token_answer("old"), token_answer("new"))
    wire.route("/x", err(40014, "bad token"), ok())
    async with client_with(wire) as c:
        assert (await c.call("/x", json={}))["errcode"] == 0
        # Later calls to the same path carry the new token, not a URL kept from before.
        await c.call("/x", json={})
        await c.call("/x", json={}, params={"dept_id": "1"})
    assert tokens_of(wire.sent("/x")) == ["old", "new", "new", "new"]
    assert [dict(r.url.query) for r in wire.sent("/x")][-1] == {
        "access_token": "new", "dept_id": "1"}


@pytest.mark.parametrize("kwargs", [
    {"path": "relative"},
    {"path": "/x?access_token=t"},
    {"path": "/x", "method": "DELETE"},
    {"path": "/x", "params": {"access_token": "t"}},
])
async def test_call_rejects_bad_input_before_sending(
    client: dingnotify.DingTalkClient, wire: Scripted, kwargs: dict[str, object]
) -> None:
    path = kwargs.pop("path")
    with pytest.raises(dingnotify.ValidationError):
        await client.call(path, **kwargs)  # type: ignore[arg-type]
    assert wire.sent() == []


@pytest.mark.parametrize(("errcode", "cls", "retryable"), [
    (90018, dingnotify.RateLimitedError, True),
    (90006, dingnotify.RateLimitedError, True),
    (90020, dingnotify.QuotaExhaustedError, False),
    (-1, dingnotify.ServerBusyError, True),
    (40089, dingnotify.CredentialsError, False),
    (40014, dingnotify.TokenError, False),
    (60121, dingnotify.NotFoundError, False),
])
async def test_errcodes_map_to_classes_that_say_if_they_are_retried(
    errcode: int, cls: type[dingnotify.DingTalkError], retryable: bool
) -> None:
    wire = Scripted().route(RECALL, err(errcode))
    async with client_with(wire) as c:
        with pytest.raises(cls) as info:
            await c.work_notice.recall(5)
    assert type(info.value) is cls and info.value.retryable is retryable
    calls = len(wire.sent(RECALL))
    if errcode == 40014:
        assert calls == 2  # refreshed once, then raised
    elif retryable:
        assert calls == 4 if cls is dingnotify.ServerBusyError else calls == 12
    else:
        assert calls == 1


CALLS: dict[str, Callable[..., Awaitable[object]]] = {
    "send": lambda c, **kw: c.work_notice.send(Text(content="x"), userids=["u"], **kw),
    "get_progress": lambda c, **kw: c.work_notice.get_progress(1, **kw),
    "get_result": lambda c, **kw: c.work_notice.get_result(1, **kw),
    "recall": lambda c, **kw: c.work_notice.recall(1, **kw),
    "update_status_bar": lambda c, **kw: c.work_notice.update_status_bar(1, "done", **kw),
    "get_by_mobile": lambda c, **kw: c.users.get_by_mobile("13800000000", **kw),
    "get_by_mobile_v2": lambda c, **kw: c.users.get_by_mobile_v2("13800000000", **kw),
    "upload": lambda c, **kw: c.media.upload(b"x", media_type="file", filename="a.txt", **kw),
    "call": lambda c, **kw: c.call("/any/path", json={}, **kw),
}


@pytest.mark.parametrize("name", list(CALLS))
async def test_every_call_takes_per_call_retry_and_timeout(wire: Scripted, name: str) -> None:
    async def slow(request: MockRequest) -> MockResponse:
        await anyio.sleep(5)
        return ok()

    make = CALLS[name]
    async with client_with(wire) as c:
        wire.routes.update({path: [MockResponse(503)] for path in ALL_PATHS})
        with pytest.raises(dingnotify.ServerError):
            await make(c, retry=dingnotify.RetryPolicy.none())
        assert len(wire.requests) == 2  # the token, then one attempt
        wire.routes.update({path: [slow] for path in ALL_PATHS})
        with anyio.fail_after(2), pytest.raises(dingnotify.RequestTimeoutError):
            await make(c, timeout=0.02, retry=dingnotify.RetryPolicy.none())
    assert len(wire.requests) == 3


ALL_PATHS = (SEND, PROGRESS, RESULT, RECALL, STATUS_BAR, GET_BY_MOBILE, GET_BY_MOBILE_V2,
             MEDIA, "/any/path")
