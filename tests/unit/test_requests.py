"""The exact request each endpoint sends, and how each response is parsed."""

from __future__ import annotations

import re

import pytest
from aioresponses import aioresponses

import dingnotify
from dingnotify import (
    CrossDomainMessage,
    MessageReceiverScope,
    SendMessageModel,
    SendResult,
    Text,
)
from tests.conftest import BASE, TOKEN, body_json, mock_token, sent
from tests.unit.test_messages import CASES as MESSAGE_CASES

SEND = f"{BASE}/topapi/message/corpconversation/asyncsend_v2?access_token={TOKEN}"


async def test_gettoken_then_send_exact_wire(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    mocked.post(SEND, payload={"errcode": 0, "errmsg": "ok", "task_id": 9326688016,
                               "request_id": "abc"})
    task_id = await client.work_notice.send(
        Text(content="hi"), userids=["u1", "u2", "u1"], dept_ids=[10], to_all_user=False
    )
    assert task_id == 9326688016
    calls = sent(mocked)
    assert [(m, u.path) for m, u, _ in calls] == [
        ("GET", "/gettoken"),
        ("POST", "/topapi/message/corpconversation/asyncsend_v2"),
    ]
    _, url, kwargs = calls[1]
    assert dict(url.query) == {"access_token": TOKEN}
    assert kwargs["headers"]["Content-Type"] == "application/json;charset=UTF-8"
    assert body_json(kwargs) == {
        "agent_id": 123,
        "msg": {"msgtype": "text", "text": {"content": "hi"}},
        "userid_list": "u1,u2",
        "dept_id_list": "10",
    }


async def test_to_all_user_and_per_call_agent_id(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    mocked.post(SEND, payload={"errcode": 0, "errmsg": "ok", "task_id": 7})
    await client.work_notice.send(Text(content="all"), to_all_user=True, agent_id=999)
    body = body_json(sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")[0][2])
    assert body == {"agent_id": 999, "to_all_user": True,
                    "msg": {"msgtype": "text", "text": {"content": "all"}}}


async def test_get_by_mobile_query(client: dingnotify.DingTalkClient, mocked: aioresponses) -> None:
    mock_token(mocked)
    mocked.get(f"{BASE}/user/get_by_mobile?access_token={TOKEN}&mobile=13800000000",
               payload={"errcode": 0, "errmsg": "ok", "userid": "zhangsan"})
    assert await client.users.get_by_mobile("13800000000") == "zhangsan"
    method, url, _ = sent(mocked, "/user/get_by_mobile")[0]
    assert method == "GET" and dict(url.query) == {"access_token": TOKEN, "mobile": "13800000000"}


async def test_get_by_mobile_unknown_raises_not_found(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    mocked.get(re.compile(r".*/user/get_by_mobile.*"),
               payload={"errcode": 60121, "errmsg": "找不到该用户"})
    with pytest.raises(dingnotify.NotFoundError) as info:
        await client.users.get_by_mobile("13800000001")
    assert info.value.errcode == 60121 and info.value.errmsg == "找不到该用户"


async def test_get_by_mobile_v2(client: dingnotify.DingTalkClient, mocked: aioresponses) -> None:
    mock_token(mocked)
    mocked.post(f"{BASE}/topapi/v2/user/getbymobile?access_token={TOKEN}",
                payload={"errcode": 0, "errmsg": "ok", "request_id": "r1",
                         "result": {"userid": "u9", "exclusive_account_userid_list": ["x1"]}})
    found = await client.users.get_by_mobile_v2("13800000000",
                                                support_exclusive_account_search=True)
    assert found.userid == "u9" and found.exclusive_account_userids == ["x1"]
    body = body_json(sent(mocked, "/topapi/v2/user/getbymobile")[0][2])
    assert body == {"mobile": "13800000000", "support_exclusive_account_search": True}


async def test_progress_result_recall_status_bar_bodies(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    root = f"{BASE}/topapi/message/corpconversation"
    mocked.post(f"{root}/getsendprogress?access_token={TOKEN}",
                payload={"errcode": 0, "errmsg": "ok",
                         "progress": {"progress_in_percent": 40, "status": 1}})
    mocked.post(f"{root}/getsendresult?access_token={TOKEN}",
                payload={"errcode": 0, "errmsg": "ok", "send_result": {
                    "invalid_user_id_list": ["bad"], "forbidden_user_id_list": ["f1"],
                    "failed_user_id_list": [], "read_user_id_list": ["r1", "r2"],
                    "unread_user_id_list": ["x"], "invalid_dept_id_list": [77],
                    "forbidden_list": [{"code": "143105", "count": 1, "userid": "f1"}]}})
    mocked.post(f"{root}/recall?access_token={TOKEN}", payload={"errcode": 0, "errmsg": "ok"})
    mocked.post(f"{root}/status_bar/update?access_token={TOKEN}",
                payload={"errcode": 0, "errmsg": "ok"})

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

    paths = {u.path.rsplit("/", 1)[-1]: body_json(k) for _, u, k in sent(mocked)[1:]}
    assert paths["getsendprogress"] == {"agent_id": 123, "task_id": 55}
    assert paths["getsendresult"] == {"agent_id": 123, "task_id": 55}
    assert paths["recall"] == {"agent_id": 123, "msg_task_id": 55}
    assert paths["update"] == {"agent_id": 123, "task_id": 55, "status_value": "done",
                               "status_bg": "0xFF78C06E"}


async def test_send_result_accepts_seed_comma_strings(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    mocked.post(re.compile(r".*/getsendresult.*"), payload={
        "send_result": {"invalid_user_id_list": "zhangsan,lisi", "read_user_id_list": "",
                        "invalid_dept_id_list": "1,2,3"},
        "errcode": 0, "errmsg": "ok"})
    result = await client.work_notice.get_result(1)
    assert result.invalid_userids == ["zhangsan", "lisi"]
    assert result.read_userids == [] and result.unread_userids == []
    assert result.invalid_dept_ids == [1, 2, 3]


async def test_media_upload_multipart(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    mocked.post(f"{BASE}/media/upload?access_token={TOKEN}&type=image",
                payload={"errcode": 0, "errmsg": "ok", "type": "image",
                         "media_id": "@lADPimg", "created_at": 1726589815213})
    media_id = await client.media.upload(b"\x89PNG...", media_type="image", filename="a.png")
    assert media_id == "@lADPimg"
    _, url, kwargs = sent(mocked, "/media/upload")[0]
    assert dict(url.query) == {"access_token": TOKEN, "type": "image"}
    form = kwargs["data"]
    fields = form._fields  # aiohttp.FormData: (options, headers, value)
    assert len(fields) == 1
    options, headers, value = fields[0]
    assert options["name"] == "media" and options["filename"] == "a.png"
    assert headers["Content-Type"] == "image/png" and value == b"\x89PNG..."


async def test_crossdomain_send_wire(
    client: dingnotify.DingTalkClient, mocked: aioresponses
) -> None:
    mock_token(mocked)
    mocked.post(f"{BASE}/topapi/dingtalk/impaas/message/crossdomain/send?access_token={TOKEN}",
                payload={"errcode": 0, "errmsg": "", "request_id": "rq"})
    msg = CrossDomainMessage(
        sender="1001@domain", message_id="321443",
        send_message_model=SendMessageModel(conversation_type=1, uuid="fdsfdfd", content_type=1,
                                            content={"content": "test"},
                                            cid="1011@domain:@domain$1@G"),
        message_receiver_scope_model=MessageReceiverScope(actual_receivers=("uid",)),
        new_conversation_notification_off=True,
    )
    assert await client.impaas.send_crossdomain(msg) == "rq"
    body = body_json(sent(mocked, "/topapi/dingtalk/impaas/message/crossdomain/send")[0][2])
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
    client: dingnotify.DingTalkClient, mocked: aioresponses, payload: dict[str, object],
    cls: type[dingnotify.DingTalkError], effective: int,
) -> None:
    mock_token(mocked)
    mock_token(mocked)
    mocked.post(re.compile(r".*/recall.*"), payload=payload, repeat=True)
    with pytest.raises(cls) as info:
        await client.work_notice.recall(5)
    err = info.value
    assert type(err) is cls
    assert err.errcode == payload["errcode"] and err.effective_code == effective
    assert err.request_id == payload.get("request_id")
    assert err.sub_code == payload.get("sub_code")


@pytest.mark.parametrize(("message", "wire"), MESSAGE_CASES, ids=lambda v: type(v).__name__)
async def test_send_carries_every_message_type_exactly(
    client: dingnotify.DingTalkClient, mocked: aioresponses, message: object,
    wire: dict[str, object],
) -> None:
    mock_token(mocked)
    mocked.post(SEND, payload={"errcode": 0, "errmsg": "ok", "task_id": 11})
    await client.work_notice.send(message, userids=["u1"])  # type: ignore[arg-type]
    body = body_json(sent(mocked, "/topapi/message/corpconversation/asyncsend_v2")[0][2])
    assert body == {"agent_id": 123, "userid_list": "u1", "msg": wire}
