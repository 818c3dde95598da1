"""The emulator's oapi wire format, pinned to the seed docs and api-notes (raw HTTP only)."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import aiohttp
import pytest

from dingnotify.testing import Emulator, ManualClock, Org

from .conftest import CROSSDOMAIN, PROGRESS, RECALL, SEND, STATUS_BAR, Wire

REQUEST_ID = re.compile(r"^[a-z0-9]{12,13}$")
TEXT = {"msgtype": "text", "text": {"content": "hello"}}


def test_synthetic_org_shape() -> None:
    org = Org.synthetic(n_users=1_000, depts=30, seed=3)
    assert len(org.users) == 1_000 and len(org.depts) == 30
    assert org.users["u000001"].mobile == "13800000001"
    assert org.app.app_key == "dingemuappkey" and org.app.agent_id == 1000
    assert org.top_apps[0].app_key == "12345678"
    assert org.expand_dept(1) == set(org.users)
    again = Org.synthetic(n_users=1_000, depts=30, seed=3)
    assert {d: org.expand_dept(d) for d in org.depts} == {
        d: again.expand_dept(d) for d in again.depts}
    child = next(d for d in org.depts.values() if d.parent_id == 1)
    assert org.expand_dept(child.dept_id) <= org.expand_dept(1)
    assert org.expand_dept(999) == set()


# -- gettoken ---------------------------------------------------------------------------


async def test_gettoken_ok_and_same_token_renewed(wire: Wire, clock: ManualClock) -> None:
    app = wire.emu.app
    first = await wire.get("/gettoken", appkey=app.app_key, appsecret=app.app_secret)
    assert first["errcode"] == 0 and first["errmsg"] == "ok" and first["expires_in"] == 7200
    assert re.fullmatch(r"[0-9a-f]{32}", first["access_token"])
    clock.advance(7000)
    second = await wire.get("/gettoken", appkey=app.app_key, appsecret=app.app_secret)
    assert second["access_token"] == first["access_token"]  # extended, not re-minted
    clock.advance(7000)  # 14000 s after minting, but only 7000 after the renewal
    body = await wire.get("/user/get_by_mobile", access_token=first["access_token"],
                          mobile="13800000001")
    assert body["errcode"] == 0
    assert wire.emu.tokens_issued == 1


async def test_gettoken_expiry_mints_new_token(wire: Wire, clock: ManualClock) -> None:
    old = await wire.token()
    clock.advance(7201)
    body = await wire.get("/user/get_by_mobile", access_token=old, mobile="13800000001")
    assert body == {"errcode": 40014, "errmsg": "不合法的access_token"}
    app = wire.emu.app
    new = await wire.get("/gettoken", appkey=app.app_key, appsecret=app.app_secret)
    assert new["access_token"] != old and wire.emu.tokens_issued == 2


@pytest.mark.parametrize(("params", "errcode"), [
    ({"appkey": "dingemuappkey", "appsecret": "wrong"}, 40096),
    ({"appkey": "nope", "appsecret": "emu-secret-do-not-log"}, 40096),
    ({"appkey": "dingemuappkey"}, 40035),
    ({}, 40035),
])
async def test_gettoken_errors(wire: Wire, params: dict[str, str], errcode: int) -> None:
    body = await wire.get("/gettoken", **params)
    assert body["errcode"] == errcode and "access_token" not in body
    if errcode == 40096:
        assert body["errmsg"] == "不合法的appKey或appSecret"


# -- user lookup ------------------------------------------------------------------------


async def test_get_by_mobile_classic(wire: Wire) -> None:
    tok = await wire.token()
    ok = await wire.get("/user/get_by_mobile", access_token=tok, mobile="13800000042")
    assert ok == {"errcode": 0, "errmsg": "ok", "userid": "u000042"}
    missing = await wire.get("/user/get_by_mobile", access_token=tok, mobile="13999999999")
    assert missing == {"errcode": 60121, "errmsg": "找不到该用户"}
    bad = await wire.get("/user/get_by_mobile", access_token="0" * 32, mobile="13800000001")
    assert bad == {"errcode": 40014, "errmsg": "不合法的access_token"}


async def test_getbymobile_v2(wire: Wire) -> None:
    ok = await wire.post("/topapi/v2/user/getbymobile", {"mobile": "13800000007"})
    assert ok["errcode"] == 0 and ok["result"] == {"userid": "u000007"}
    assert REQUEST_ID.match(ok["request_id"])
    missing = await wire.post("/topapi/v2/user/getbymobile", {"mobile": "13999999999"})
    assert missing["errcode"] == 60121 and REQUEST_ID.match(missing["request_id"])


async def test_topapi_token_error_is_wrapped_in_88(wire: Wire) -> None:
    body = await wire.post("/topapi/v2/user/getbymobile", {"mobile": "1"}, token="bad")
    assert body["errcode"] == 88 and body["sub_code"] == "40014"
    assert body["sub_msg"] == "不合法的access_token"
    assert body["errmsg"] == "ding talk error[subcode=40014,submsg=不合法的access_token]"
    assert REQUEST_ID.match(body["request_id"])


async def test_topapi_plain_error_style(session: aiohttp.ClientSession) -> None:
    async with Emulator(topapi_error_style="plain") as emu:
        body = await Wire(emu, session).post(SEND, {"agent_id": 1000}, token="bad")
    assert body["errcode"] == 40014 and "sub_code" not in body and "request_id" in body


async def test_revoke_tokens(wire: Wire) -> None:
    await wire.token()
    wire.emu.revoke_tokens()
    body = await wire.send(userid_list="u000001")
    assert body["errcode"] == 88 and body["sub_code"] == "40014"


async def test_unknown_topapi_path_and_non_json_body(wire: Wire) -> None:
    body = await wire.post("/topapi/app/remove_auth", {})
    assert body["errcode"] == 22 and "dingtalk.oapi.app.remove_auth" in body["errmsg"]
    assert "sub_msg" in body and REQUEST_ID.match(body["request_id"])
    bad = await wire.post(SEND, None, raw=b"agent_id=1&msg=x")
    assert bad["errcode"] == 43009 and "request_id" in bad


# -- asyncsend_v2: every message type ---------------------------------------------------

MESSAGES: dict[str, dict[str, Any]] = {
    "text": {"msgtype": "text", "text": {"content": "hi"}},
    "image": {"msgtype": "image", "image": {"media_id": "@lADOdvRYes0CbM0CbA"}},
    "voice": {"msgtype": "voice", "voice": {"media_id": "@lADOvoice", "duration": "10"}},
    "file": {"msgtype": "file", "file": {"media_id": "@lADOfile"}},
    "link": {"msgtype": "link", "link": {"messageUrl": "https://e.x", "picUrl": "@lADOp",
                                         "title": "t", "text": "x"}},
    "markdown": {"msgtype": "markdown", "markdown": {"title": "t", "text": "# x"}},
    "oa": {"msgtype": "oa", "oa": {"message_url": "https://e.x",
                                   "head": {"bgcolor": "FFBBBBBB", "text": "h"},
                                   "body": {"title": "b", "image": "@lADOimg"}}},
    "action_card": {"msgtype": "action_card", "action_card": {
        "title": "t", "markdown": "m", "single_title": "go", "single_url": "https://e.x"}},
    "action_card_btns": {"msgtype": "action_card", "action_card": {
        "title": "t", "markdown": "m", "btn_orientation": "1",
        "btn_json_list": [{"title": "a", "action_url": "https://a"},
                          {"title": "b", "action_url": "https://b"}]}},
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
async def test_send_each_message_type(wire: Wire, name: str) -> None:
    msg = MESSAGES[name]
    body = await wire.send(msg, userid_list="u000001,u000002")
    assert body["errcode"] == 0 and body["errmsg"] == "ok", body
    assert isinstance(body["task_id"], int) and 10 <= len(str(body["task_id"])) <= 11
    assert REQUEST_ID.match(body["request_id"])
    box = wire.emu.inboxes["u000002"]
    assert box[-1].msg == msg and box[-1].msgtype == msg["msgtype"]
    assert box[-1].task_id == body["task_id"]


async def test_send_lenient_forms(wire: Wire) -> None:
    body = await wire.post(SEND, {"agent_id": "1000", "to_all_user": "false",
                                  "userid_list": ["u000001", "u000002"],
                                  "dept_id_list": [99999],
                                  "msg": json.dumps({"msgtype": "text",
                                                     "text": {"content": "x",
                                                              "msgtype": "text"}})})
    assert body["errcode"] == 0, body
    task = wire.emu.tasks[body["task_id"]]
    assert task.delivered == {"u000001", "u000002"} and task.invalid_dept_ids == [99999]


def _too_big() -> dict[str, Any]:
    # 2048 bytes exactly is fine; counted on compact UTF-8 JSON of msg (CJK = 3 bytes)
    frame = len(json.dumps({"msgtype": "text", "text": {"content": ""}},
                           separators=(",", ":")).encode())
    return {"msgtype": "text", "text": {"content": "字" * ((2049 - frame) // 3 + 1)}}


@pytest.mark.parametrize(("fields", "needle"), [
    ({"userid_list": ",".join(f"u{i:06d}" for i in range(1, 102))}, "userid_list"),
    ({"dept_id_list": ",".join(str(i) for i in range(1, 22))}, "dept_id_list"),
    ({}, "userid_list"),
    ({"userid_list": "u000001", "dept_id_list": ""}, "dept_id_list"),
    ({"userid_list": "u000001", "dept_id_list": "a,b"}, "dept_id_list"),
    ({"userid_list": "u000001", "msg": _too_big()}, "2048"),
    ({"userid_list": "u000001", "msg": {"msgtype": "video", "video": {}}}, "msgtype"),
    ({"userid_list": "u000001", "msg": {"text": {"content": "x"}}}, "msgtype"),
    ({"userid_list": "u000001", "msg": {"msgtype": "text"}}, "msg.text"),
    ({"userid_list": "u000001", "msg": "not json"}, "msg"),
    ({"userid_list": "u000001", "msg": {"msgtype": "text", "text": {"content": ""}}},
     "msg.text.content"),
    ({"userid_list": "u000001", "msg": {"msgtype": "image", "image": {}}},
     "msg.image.media_id"),
    ({"userid_list": "u000001", "msg": {"msgtype": "voice", "voice": {"media_id": "@lADOx"}}},
     "msg.voice.duration"),
    ({"userid_list": "u000001", "msg": {"msgtype": "link", "link": {
        "message_url": "u", "pic_url": "p", "title": "t", "text": "x"}}}, "messageUrl"),
    ({"userid_list": "u000001", "msg": {"msgtype": "markdown", "markdown": {"title": "t"}}},
     "msg.markdown.text"),
    ({"userid_list": "u000001", "msg": {"msgtype": "oa", "oa": {"message_url": "u",
                                                                 "head": {}}}}, "msg.oa.body"),
    ({"userid_list": "u000001", "msg": {"msgtype": "action_card", "action_card": {
        "title": "t", "markdown": "m"}}}, "btn_json_list"),
    ({"userid_list": "u000001", "msg": {"msgtype": "action_card", "action_card": {
        "title": "t", "markdown": "m", "btn_orientation": "0",
        "btn_json_list": [{"title": "a"}]}}}, "action_url"),
    ({"userid_list": "u000001", "msg": {"msgtype": "action_card", "action_card": {
        "title": "t", "markdown": "m", "single_title": "go"}}}, "single_url"),
    ({"userid_list": "u000001", "msg": {"msgtype": "image", "image": {
        "media_id": "@lAXPnever-uploaded"}}}, "media_id"),
    ({"userid_list": "u000001", "msg": {"msgtype": "oa", "oa": {
        "message_url": "u", "head": {}, "body": {"image": "@lAXPnope"}}}}, "msg.oa.body.image"),
    ({"userid_list": "u000001", "to_all_user": "maybe"}, "to_all_user"),
])
async def test_send_validation(wire: Wire, fields: dict[str, Any], needle: str) -> None:
    body = await wire.send(**fields)
    assert body["errcode"] == 40035, body
    assert needle in body["errmsg"] and REQUEST_ID.match(body["request_id"])
    assert not wire.emu.tasks


async def test_msg_of_exactly_2048_bytes_is_accepted(wire: Wire) -> None:
    frame = len(json.dumps({"msgtype": "text", "text": {"content": ""}},
                           separators=(",", ":")).encode())
    msg = {"msgtype": "text", "text": {"content": "a" * (2048 - frame)}}
    assert (await wire.send(msg, userid_list="u000001"))["errcode"] == 0
    msg["text"]["content"] += "a"
    assert (await wire.send(msg, userid_list="u000001"))["errcode"] == 40035


async def test_send_agent_id_must_match_token(wire: Wire) -> None:
    body = await wire.post(SEND, {"agent_id": 4242, "userid_list": "u000001", "msg": TEXT})
    assert body["errcode"] == 88 and body["sub_code"] == "60011"
    missing = await wire.post(SEND, {"userid_list": "u000001", "msg": TEXT})
    assert missing["errcode"] == 40035 and "agent_id" in missing["errmsg"]


# -- delivery rules ---------------------------------------------------------------------


async def test_invalid_users_and_depts(wire: Wire) -> None:
    body = await wire.send(userid_list="u000001,ghost,ghost", dept_id_list="424242")
    result = (await wire.result(body["task_id"]))["send_result"]
    assert result["invalid_user_id_list"] == ["ghost"]
    assert result["invalid_dept_id_list"] == [424242]
    assert result["unread_user_id_list"] == ["u000001"]
    assert "ghost" not in wire.emu.inboxes


async def test_dept_subtree_expansion_deduplicated(session: aiohttp.ClientSession) -> None:
    org = Org.synthetic(n_users=300, depts=12, seed=5)
    child = next(d for d in org.depts.values() if d.parent_id == 1 and org.expand_dept(d.dept_id))
    members = org.expand_dept(child.dept_id)
    one = sorted(members)[0]
    async with Emulator(org=org) as emu:
        body = await Wire(emu, session).send(userid_list=one, dept_id_list=str(child.dept_id))
    task = emu.tasks[body["task_id"]]
    assert task.delivered == members
    assert all(len(emu.inboxes[u]) == 1 for u in members)


async def test_same_content_same_day_forbidden_then_next_day_ok(wire: Wire,
                                                                clock: ManualClock) -> None:
    await wire.send(userid_list="u000001")
    again = await wire.send(userid_list="u000001,u000002")
    result = (await wire.result(again["task_id"]))["send_result"]
    assert result["forbidden_user_id_list"] == ["u000001"]
    assert result["forbidden_list"] == [{"code": "143105", "count": 1, "userid": "u000001"}]
    assert result["unread_user_id_list"] == ["u000002"]
    assert wire.emu.duplicates_dropped == 1
    other = await wire.send({"msgtype": "text", "text": {"content": "other"}},
                            userid_list="u000001")
    assert not wire.emu.tasks[other["task_id"]].forbidden
    clock.advance(86_400)
    wire._token = None
    third = await wire.send(userid_list="u000001")
    assert wire.emu.tasks[third["task_id"]].delivered == {"u000001"}
    assert len(wire.emu.inboxes["u000001"]) == 3


async def test_daily_cap_of_500_per_user(wire: Wire) -> None:
    for i in range(500):
        body = await wire.send({"msgtype": "text", "text": {"content": f"m{i}"}},
                               userid_list="u000003")
        assert body["errcode"] == 0
    over = await wire.send({"msgtype": "text", "text": {"content": "m500"}},
                           userid_list="u000003,u000004")
    task = wire.emu.tasks[over["task_id"]]
    assert task.forbidden == {"u000003"} and task.delivered == {"u000004"}
    assert task.forbidden_list[0].code == "143106" and task.forbidden_list[0].count == 500
    assert len(wire.emu.inboxes["u000003"]) == 500


async def test_to_all_user_three_times_a_day(wire: Wire, clock: ManualClock) -> None:
    n = len(wire.emu.org.users)
    for i in range(3):
        body = await wire.send({"msgtype": "text", "text": {"content": f"all {i}"}},
                               to_all_user=True)
        assert len(wire.emu.tasks[body["task_id"]].delivered) == n
    fourth = await wire.send({"msgtype": "text", "text": {"content": "all 3"}},
                             to_all_user="true")
    assert fourth["errcode"] == 0
    task = wire.emu.tasks[fourth["task_id"]]
    assert not task.delivered and len(task.forbidden) == n
    assert {r.code for r in task.forbidden_list} == {"143107"}
    clock.advance(86_400)
    wire._token = None
    fifth = await wire.send({"msgtype": "text", "text": {"content": "all 3"}}, to_all_user=True)
    assert len(wire.emu.tasks[fifth["task_id"]].delivered) == n


# -- progress / result / recall / status bar --------------------------------------------


async def test_progress_advances_with_clock(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with Emulator(clock=clock, progress_seconds=10) as emu:
        wire = Wire(emu, session)
        task_id = (await wire.send(userid_list="u000001"))["task_id"]
        seen = []
        for step in (0, 5, 5):
            clock.advance(step)
            body = await wire.post(PROGRESS, {"agent_id": 1000, "task_id": task_id})
            assert body["errcode"] == 0 and REQUEST_ID.match(body["request_id"])
            seen.append((body["progress"]["status"], body["progress"]["progress_in_percent"]))
        assert seen == [(0, 0), (1, 50), (2, 100)]
        unknown = await wire.post(PROGRESS, {"agent_id": 1000, "task_id": 1})
        assert unknown["errcode"] == 40035


async def test_result_read_split_and_string_form(session: aiohttp.ClientSession) -> None:
    users = ",".join(f"u{i:06d}" for i in range(1, 100))
    async with Emulator(read_ratio=0.5, seed=1) as emu:
        wire = Wire(emu, session)
        task_id = (await wire.send(userid_list=users + ",ghost", dept_id_list="777"))["task_id"]
        result = (await wire.result(task_id))["send_result"]
    assert set(result) == {"invalid_user_id_list", "forbidden_user_id_list",
                           "failed_user_id_list", "read_user_id_list", "unread_user_id_list",
                           "invalid_dept_id_list", "forbidden_list"}
    read, unread = result["read_user_id_list"], result["unread_user_id_list"]
    assert 30 < len(read) < 70 and len(read) + len(unread) == 99
    assert {u for u, box in emu.inboxes.items() if box[0].read} == set(read)
    async with Emulator(result_lists_as_strings=True) as emu2:
        wire2 = Wire(emu2, session)
        task_id = (await wire2.send(userid_list="u000001,ghost", dept_id_list="7,8"))["task_id"]
        text = (await wire2.result(task_id))["send_result"]
    assert text["invalid_user_id_list"] == "ghost" and text["invalid_dept_id_list"] == "7,8"
    assert text["unread_user_id_list"] == "u000001" and text["forbidden_list"] == []


async def test_recall_removes_from_inboxes(wire: Wire) -> None:
    keep = await wire.send({"msgtype": "text", "text": {"content": "keep"}},
                           userid_list="u000001")
    gone = await wire.send(userid_list="u000001,u000002")
    body = await wire.post(RECALL, {"agent_id": 1000, "msg_task_id": gone["task_id"]})
    assert body["errcode"] == 0 and body["errmsg"] == "ok" and "request_id" in body
    assert [m.task_id for m in wire.emu.inboxes["u000001"]] == [keep["task_id"]]
    assert wire.emu.inboxes["u000002"] == []
    assert wire.emu.tasks[gone["task_id"]].recalled
    missing = await wire.post(RECALL, {"agent_id": 1000, "msg_task_id": 5})
    assert missing["errcode"] == 40035


async def test_status_bar_update(wire: Wire) -> None:
    task_id = (await wire.send(MESSAGES["oa"], userid_list="u000001"))["task_id"]
    body = await wire.post(STATUS_BAR, {"agent_id": 1000, "task_id": task_id,
                                        "status_value": "已同意", "status_bg": "0xFF78C06E"})
    assert body["errcode"] == 0 and "request_id" in body
    task = wire.emu.tasks[task_id]
    assert (task.status_value, task.status_bg) == ("已同意", "0xFF78C06E")
    missing = await wire.post(STATUS_BAR, {"agent_id": 1000, "task_id": task_id})
    assert missing["errcode"] == 40035 and "status_value" in missing["errmsg"]


# -- media upload -----------------------------------------------------------------------


def _form(filename: str, size: int, type_field: str | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if type_field is not None:
        form.add_field("type", type_field)
    form.add_field("media", io.BytesIO(b"\x89" * size), filename=filename,
                   content_type="application/octet-stream")
    return form


async def _upload(wire: Wire, form: aiohttp.FormData, **query: str) -> Any:
    params = {"access_token": await wire.token(), **query}
    async with wire.session.post(wire.emu.url + "/media/upload", params=params,
                                 data=form) as resp:
        assert resp.status == 200
        return await resp.json(content_type=None)


async def test_media_upload_query_and_form_type(wire: Wire, clock: ManualClock) -> None:
    by_query = await _upload(wire, _form("a.png", 100), type="image")
    assert by_query["errcode"] == 0 and by_query["type"] == "image"
    assert by_query["media_id"].startswith("@lADP")
    assert by_query["created_at"] == int(clock() * 1000)
    by_form = await _upload(wire, _form("v.amr", 100, type_field="voice"))
    assert by_form["errcode"] == 0 and by_form["type"] == "voice"
    msg = {"msgtype": "image", "image": {"media_id": by_query["media_id"]}}
    assert (await wire.send(msg, userid_list="u000001"))["errcode"] == 0


@pytest.mark.parametrize(("form", "query", "errcode"), [
    (lambda: _form("a.png", 10), {}, 40035),
    (lambda: _form("a.png", 10), {"type": "gif"}, 40035),
    (lambda: _form("a.exe", 10), {"type": "image"}, 40005),
    (lambda: _form("a.mp3", 2 * 1024 * 1024 + 1), {"type": "voice"}, 40006),
    (lambda: _form("a.pdf", 0), {"type": "file"}, 40006),
])
async def test_media_upload_errors(wire: Wire, form: Any, query: dict[str, str],
                                   errcode: int) -> None:
    body = await _upload(wire, form(), **query)
    assert body["errcode"] == errcode, body


async def test_media_limits_configurable(session: aiohttp.ClientSession) -> None:
    async with Emulator(media_limits={"image": 50}) as emu:
        body = await _upload(Wire(emu, session), _form("a.jpg", 51), type="image")
    assert body["errcode"] == 40006


# -- cross-domain IM --------------------------------------------------------------------

MODEL = {"sender": "1001@domain", "message_id": "321443",
         "send_message_model": {"conversation_type": 1, "uuid": "fdsfdfd", "content_type": 1,
                                "content": json.dumps({"content": "test"}),
                                "cid": "1011@domain:@domain$1@G"},
         "message_receiver_scope_model": {"actual_receivers": ["uid"]},
         "new_conversation_notification_off": True}


async def test_crossdomain_send_object_and_string(wire: Wire) -> None:
    body = await wire.post(CROSSDOMAIN, {"crossdomain_message_send_model": MODEL})
    assert body["errcode"] == 0 and body["errmsg"] == "" and REQUEST_ID.match(body["request_id"])
    as_string = await wire.post(CROSSDOMAIN,
                                {"crossdomain_message_send_model": json.dumps(MODEL)})
    assert as_string["errcode"] == 0
    assert [m.model["message_id"] for m in wire.emu.crossdomain_messages] == ["321443"] * 2


@pytest.mark.parametrize(("patch", "needle"), [
    ({"sender": None}, "sender"),
    ({"message_id": ""}, "message_id"),
    ({"send_message_model": None}, "send_message_model"),
    ({"send_message_model": {**MODEL["send_message_model"], "content": {"content": "x"}}},
     "content"),
    ({"send_message_model": {**MODEL["send_message_model"], "content": "{bad"}}, "content"),
    ({"send_message_model": {**MODEL["send_message_model"], "content_type": 3}},
     "content_type"),
    ({"send_message_model": {**MODEL["send_message_model"], "cid": ""}}, "cid"),
    ({"send_message_model": {**MODEL["send_message_model"], "conversation_type": "x"}},
     "conversation_type"),
    ({"message_receiver_scope_model": {"actual_receivers": "uid"}}, "actual_receivers"),
])
async def test_crossdomain_validation(wire: Wire, patch: dict[str, Any], needle: str) -> None:
    model = {k: v for k, v in {**MODEL, **patch}.items() if v is not None}
    body = await wire.post(CROSSDOMAIN, {"crossdomain_message_send_model": model})
    assert body["errcode"] == 40035 and needle in body["errmsg"], body
    assert not wire.emu.crossdomain_messages
    empty = await wire.post(CROSSDOMAIN, {})
    assert empty["errcode"] == 40035
