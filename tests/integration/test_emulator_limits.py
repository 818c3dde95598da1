"""The emulator's model of DingTalk's documented limits (raw HTTP only, never the SDK).

Every sliding window runs on an injected monotonic ``ManualClock`` and the monthly quota on
the injected wall clock, so nothing here waits for real time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from dingnotify.testing import (
    FORBID_FLOW_CONTROL,
    App,
    Emulator,
    ManualClock,
    Org,
    RateLimits,
    month_key,
)

from .conftest import PROGRESS, RESULT, SEND, Wire

GMT8 = timezone(timedelta(hours=8))
TOP_SEND = "dingtalk.oapi.message.corpconversation.asyncsend_v2"


def _text(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}}


def _users(first: int, n: int) -> str:
    return ",".join(f"u{i:06d}" for i in range(first, first + n))


@pytest.fixture
def mono() -> ManualClock:
    return ManualClock(1_000.0)


@contextlib.asynccontextmanager
async def _limited(limits: RateLimits, mono: ManualClock, session: aiohttp.ClientSession,
                   **options: Any) -> AsyncIterator[tuple[Emulator, Wire]]:
    options.setdefault("org", Org.synthetic(n_users=300, seed=1))
    async with Emulator(profile=limits, monotonic=mono, **options) as emu:
        yield emu, Wire(emu, session)


# -- profiles and RateLimits ------------------------------------------------------------


@pytest.mark.parametrize(("name", "qps", "monthly"), [
    ("standard", 20, 5000), ("professional", 40, None), ("exclusive", 60, None),
    ("realistic", 40, None)])
def test_edition_profiles(name: str, qps: float, monthly: int | None) -> None:
    limits = Emulator(profile=name).limits
    assert (limits.qps, limits.per_minute, limits.recipients_per_minute) == (qps, 1500, 5000)
    assert limits.monthly_calls == monthly
    assert (limits.userids_per_call, limits.dept_ids_per_call) == (100, 20)
    assert (limits.ip_calls_per_window, limits.ip_window, limits.ip_ban_seconds) == (
        10_000, 20.0, 300.0)
    assert limits == getattr(RateLimits, name)()


def test_unlimited_is_the_default_and_limits_are_frozen_and_checked() -> None:
    assert Emulator().limits == RateLimits.unlimited() == RateLimits()
    assert RateLimits().ip_calls_per_window is None and RateLimits().monthly_calls is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        RateLimits().qps = 1  # type: ignore[misc]
    for bad in ({"qps": 0}, {"qps": float("inf")}, {"per_minute": -1},
                {"recipients_per_minute": 0}, {"monthly_calls": float("nan")},
                {"userids_per_call": 5001}, {"userids_per_call": 0},
                {"dept_ids_per_call": 501}, {"ip_window": 0}):
        with pytest.raises(ValueError):
            RateLimits(**bad)
    assert RateLimits(userids_per_call=5000, dept_ids_per_call=500).userids_per_call == 5000


def test_month_key_follows_gmt8() -> None:
    last_minute = datetime(2026, 11, 30, 23, 59, tzinfo=GMT8).timestamp()
    assert month_key(last_minute + 120) == month_key(last_minute) + 1
    assert month_key(datetime(2026, 12, 1, 0, 0, tzinfo=GMT8).timestamp() - 1) == \
        month_key(last_minute)


# -- per-call caps --------------------------------------------------------------------------


async def test_per_call_caps_default_and_configured(session: aiohttp.ClientSession,
                                                    mono: ManualClock) -> None:
    async with _limited(RateLimits(), mono, session) as (_, wire):
        assert (await wire.send(userid_list=_users(1, 100)))["errcode"] == 0
        over = await wire.send(userid_list=_users(1, 101))
        assert over["errcode"] == 40035 and "100" in over["errmsg"]
        depts = await wire.send(dept_id_list=",".join(str(d) for d in range(1, 22)))
        assert depts["errcode"] == 40035 and "20" in depts["errmsg"]
    wide = RateLimits(userids_per_call=5000, dept_ids_per_call=500)
    async with _limited(wide, mono, session, org=Org.synthetic(n_users=5001)) as (emu, wire):
        ok = await wire.send(userid_list=_users(1, 5000))
        assert ok["errcode"] == 0 and len(emu.tasks[ok["task_id"]].delivered) == 5000
        assert (await wire.send(userid_list=_users(1, 5001)))["errcode"] == 40035
        many = ",".join(str(d) for d in range(1, 501))
        assert (await wire.send(_text("d"), dept_id_list=many))["errcode"] == 0
        assert (await wire.send(_text("e"), dept_id_list=many + ",501"))["errcode"] == 40035


# -- recipients per minute: silent non-delivery ------------------------------------------


async def test_recipients_above_the_budget_are_silently_not_delivered(
        session: aiohttp.ClientSession, mono: ManualClock) -> None:
    async with _limited(RateLimits(recipients_per_minute=150), mono, session) as (emu, wire):
        first = await wire.send(_text("a"), userid_list=_users(1, 100))
        assert len(emu.tasks[first["task_id"]].delivered) == 100
        second = await wire.send(_text("a"), userid_list=_users(101, 100))
        assert second["errcode"] == 0 and second["task_id"] > first["task_id"]
        result = (await wire.result(second["task_id"]))["send_result"]
        dropped = [f"u{i:06d}" for i in range(151, 201)]
        assert result["forbidden_user_id_list"] == dropped
        assert result["forbidden_list"] == [
            {"code": FORBID_FLOW_CONTROL, "count": 150, "userid": u} for u in dropped]
        assert FORBID_FLOW_CONTROL == "41047"
        assert result["unread_user_id_list"] == [f"u{i:06d}" for i in range(101, 151)]
        assert "u000151" not in emu.inboxes
        assert emu.undelivered == {"41047": 50}
        stats = await wire.get("/_emulator/stats")
        assert stats["undelivered"] == {"41047": 50} and stats["undelivered_total"] == 50

        mono.advance(59.0)  # the first 100 are still inside the window
        none_yet = await wire.send(_text("b"), userid_list="u000151")
        assert emu.tasks[none_yet["task_id"]].forbidden == {"u000151"}
        mono.advance(1.5)  # the first call left the window: 100 free again
        resend = await wire.send(_text("a"), userid_list=",".join(dropped))
        task = emu.tasks[resend["task_id"]]
        assert task.delivered == set(dropped) and not task.forbidden  # not marked as sent


async def test_departments_and_to_all_user_count_their_head_counts(
        session: aiohttp.ClientSession, mono: ManualClock) -> None:
    limits = RateLimits(recipients_per_minute=120)
    async with _limited(limits, mono, session) as (emu, wire):
        everyone = await wire.send(_text("all"), to_all_user=True)
        task = emu.tasks[everyone["task_id"]]
        assert len(task.delivered) == 120 and len(task.forbidden) == 180
        assert {r.code for r in task.forbidden_list} == {"41047"}
        mono.advance(61)
        root = await wire.send(_text("root"), dept_id_list="1", userid_list="u000001")
        task = emu.tasks[root["task_id"]]
        assert len(task.delivered) == 120 and len(task.forbidden) == 180
        assert emu.undelivered["41047"] == 360


async def test_filtered_recipients_do_not_draw_from_the_budget(
        session: aiohttp.ClientSession, mono: ManualClock) -> None:
    async with _limited(RateLimits(recipients_per_minute=100), mono, session) as (emu, wire):
        await wire.send(_text("same"), userid_list=_users(1, 60))
        repeat = await wire.send(_text("same"), userid_list=_users(1, 60) + ",ghost")
        task = emu.tasks[repeat["task_id"]]
        assert not task.delivered and {r.code for r in task.forbidden_list} == {"143105"}
        fresh = await wire.send(_text("new"), userid_list=_users(101, 50))
        task = emu.tasks[fresh["task_id"]]
        assert len(task.delivered) == 40 and len(task.forbidden) == 10
        assert emu.undelivered == {"143105": 60, "41047": 10}


async def test_budget_is_per_app_and_holds_in_lean_mode(
        session: aiohttp.ClientSession, mono: ManualClock) -> None:
    org = Org.synthetic(n_users=300, seed=1)
    org.apps.append(App("dingsecondapp", "second-secret", 2000))
    limits = RateLimits(recipients_per_minute=50)
    async with _limited(limits, mono, session, org=org, lean=True) as (emu, wire):
        body = await wire.send(_text("x"), userid_list=_users(1, 80))
        result = (await wire.result(body["task_id"]))["send_result"]
        assert len(result["unread_user_id_list"]) == 50
        assert len(result["forbidden_user_id_list"]) == 30
        assert {r["code"] for r in result["forbidden_list"]} == {"41047"}
        assert emu.undelivered == {"41047": 30}
        other = await wire.get("/gettoken", appkey="dingsecondapp", appsecret="second-secret")
        second = await wire.post(SEND, {"agent_id": 2000, "msg": _text("x"),
                                        "userid_list": _users(1, 50)},
                                 token=other["access_token"])
        assert len(emu.tasks[second["task_id"]].delivered) == 50  # its own budget
        await wire.post("/_emulator/reset", {})  # benchmarks: windows start afresh
        assert not emu.undelivered
        body = await wire.send(_text("y"), userid_list=_users(1, 50))
        assert len(emu.tasks[body["task_id"]].delivered) == 50


# -- monthly quota --------------------------------------------------------------------------


async def test_monthly_quota_answers_90020_until_next_month(
        session: aiohttp.ClientSession, mono: ManualClock) -> None:
    clock = ManualClock(datetime(2026, 11, 30, 23, 0, tzinfo=GMT8).timestamp())
    async with _limited(RateLimits(monthly_calls=3), mono, session, clock=clock) as (emu, wire):
        for i in range(3):
            assert (await wire.send(_text(f"m{i}"), userid_list="u000001"))["errcode"] == 0
        over = await wire.send(_text("m3"), userid_list="u000001")
        assert over["errcode"] == 90020 and "sub_code" not in over and over["request_id"]
        assert emu.throttled[90020] == 1 and emu.monthly_calls_used() == 3
        task_id = next(iter(emu.tasks))
        progress = await wire.post(PROGRESS, {"agent_id": 1000, "task_id": task_id})
        assert progress["errcode"] == 90020  # every API draws from the same quota
        upload = await wire.post("/media/upload?type=image", {})
        assert upload["errcode"] == 90020
        # exempt: gettoken and the contacts lookups
        wire._token = None
        token = await wire.token()
        classic = await wire.get("/user/get_by_mobile", access_token=token,
                                 mobile="13800000001")
        assert classic["errcode"] == 0
        v2 = await wire.post("/topapi/v2/user/getbymobile", {"mobile": "13800000002"})
        assert v2["errcode"] == 0 and emu.monthly_calls_used() == 3
        clock.advance(3600)  # 2026-12-01 00:00 GMT+8
        assert (await wire.send(_text("dec"), userid_list="u000001"))["errcode"] == 0
        assert emu.monthly_calls_used() == 1


async def test_rate_limited_calls_do_not_use_the_monthly_quota(
        session: aiohttp.ClientSession, mono: ManualClock) -> None:
    limits = RateLimits(qps=2, monthly_calls=3)
    async with _limited(limits, mono, session) as (emu, wire):
        codes = [(await wire.send(_text(f"q{i}"), userid_list="u000001"))["errcode"]
                 for i in range(4)]
        assert codes == [0, 0, 90018, 90018] and emu.monthly_calls_used() == 2
        mono.advance(1.1)
        codes = [(await wire.send(_text(f"r{i}"), userid_list="u000001"))["errcode"]
                 for i in range(2)]
        assert codes == [0, 90020]


async def test_standard_profile_has_a_monthly_quota(session: aiohttp.ClientSession) -> None:
    limits = dataclasses.replace(RateLimits.standard(), monthly_calls=2)
    async with Emulator(profile=limits) as emu:
        wire = Wire(emu, session)
        codes = [(await wire.send(_text(f"s{i}"), userid_list="u000001"))["errcode"]
                 for i in range(3)]
    assert codes == [0, 0, 90020]


# -- per-IP ban --------------------------------------------------------------------------


async def test_ip_ban_after_too_many_calls(session: aiohttp.ClientSession,
                                           mono: ManualClock) -> None:
    limits = RateLimits(ip_calls_per_window=5, ip_window=20.0, ip_ban_seconds=300.0)
    async with _limited(limits, mono, session) as (emu, wire):
        await wire.token()  # call 1
        for i in range(4):  # calls 2..5
            assert (await wire.send(_text(f"i{i}"), userid_list="u000001"))["errcode"] == 0
        banned = await wire.send(_text("i4"), userid_list="u000001")
        assert banned == {"status": 1111, "wait": 300, "source": "x5", "punish": "deny"}
        mono.advance(100.4)
        again = await wire.get("/gettoken", appkey="k", appsecret="s")
        assert again["wait"] == 200 and "errcode" not in again
        stats = await wire.get("/_emulator/stats")  # the admin API is never banned
        assert stats["throttled"]["1111"] == 2 and stats["ip_bans"] == 1
        assert len(emu.tasks) == 4
        mono.advance(200)
        assert (await wire.send(_text("back"), userid_list="u000001"))["errcode"] == 0


async def test_ip_window_slides_and_html_style(session: aiohttp.ClientSession,
                                               mono: ManualClock) -> None:
    limits = RateLimits(ip_calls_per_window=3, ip_window=20.0, ip_ban_seconds=5.0)
    async with _limited(limits, mono, session, ban_style="html") as (emu, wire):
        for _ in range(3):
            await wire.get("/gettoken", appkey="k", appsecret="s")
            mono.advance(7.0)  # at +21 s the first call has left the 20 s window
        assert "status" not in await wire.get("/gettoken", appkey="k", appsecret="s")
        async with session.get(emu.url + "/gettoken") as resp:
            page = await resp.text()
            assert resp.status == 200 and resp.content_type == "text/html"
        assert "deny" in page and "wait: 5s" in page
        assert emu.throttled[1111] == 1


async def test_unlimited_never_bans(session: aiohttp.ClientSession) -> None:
    async with Emulator() as emu:
        wire = Wire(emu, session)
        for _ in range(30):
            assert "status" not in await wire.get("/gettoken", appkey="k", appsecret="s")


# -- TOP gateway, session form ------------------------------------------------------------


async def _top(wire: Wire, method: str, form: dict[str, str] | None = None,
               **query: str) -> Any:
    params = {"method": method, "session": await wire.token(), "format": "json", "v": "2.0",
              "timestamp": "2016-01-01 12:00:00", "simplify": "false", **query}
    async with wire.session.post(wire.emu.top_url, params=params, data=form) as resp:
        assert resp.status == 200
        return await resp.json(content_type=None) if params["format"] == "json" \
            else await resp.text()


async def test_top_session_form_send_progress_result(wire: Wire) -> None:
    form = {"agent_id": "1000", "userid_list": "u000001,u000002,ghost",
            "msg": json.dumps(_text("via top")), "to_all_user": "False"}
    body = await _top(wire, TOP_SEND, form)
    inner = body["dingtalk_oapi_message_corpconversation_asyncsend_v2_response"]
    assert inner["errcode"] == 0 and inner["request_id"] and isinstance(inner["task_id"], int)
    task_id = str(inner["task_id"])
    assert wire.emu.inboxes["u000001"][0].msg == _text("via top")
    progress = await _top(wire, "dingtalk.oapi.message.corpconversation.getsendprogress",
                          agent_id="1000", task_id=task_id)
    assert progress["dingtalk_oapi_message_corpconversation_getsendprogress_response"][
        "progress"] == {"progress_in_percent": 100, "status": 2}
    result = await _top(wire, "dingtalk.oapi.message.corpconversation.getsendresult",
                        agent_id="1000", task_id=task_id, simplify="true")
    assert result["errcode"] == 0 and result["send_result"]["invalid_user_id_list"] == ["ghost"]
    xml = await _top(wire, "dingtalk.oapi.message.corpconversation.getsendresult",
                     agent_id="1000", task_id=task_id, format="xml")
    assert xml.startswith("<?xml") and "<item>ghost</item>" in xml


async def test_top_session_form_errors(wire: Wire) -> None:
    bad = await _top(wire, TOP_SEND, {"agent_id": "1000", "userid_list": "u000001"})
    inner = bad["dingtalk_oapi_message_corpconversation_asyncsend_v2_response"]
    assert inner["errcode"] == 40035 and "msg" in inner["errmsg"]
    foreign = await _top(wire, TOP_SEND, {"agent_id": "7", "userid_list": "u000001",
                                          "msg": json.dumps(_text("x"))})
    inner = foreign["dingtalk_oapi_message_corpconversation_asyncsend_v2_response"]
    assert inner["errcode"] == 88 and inner["sub_code"] == "60011"
    invalid = await _top(wire, TOP_SEND, session="not-a-token")
    assert invalid["error_response"]["code"] == 27
    missing = await _top(wire, TOP_SEND, session="")
    assert missing["error_response"]["code"] == 26
    assert not wire.emu.tasks


async def test_top_session_form_shares_limits_with_topapi(
        session: aiohttp.ClientSession, mono: ManualClock) -> None:
    limits = RateLimits(per_minute=2, recipients_per_minute=3)
    async with _limited(limits, mono, session) as (emu, wire):
        await wire.send(_text("oapi"), userid_list="u000001,u000002")
        form = {"agent_id": "1000", "userid_list": "u000003,u000004",
                "msg": json.dumps(_text("top"))}
        body = await _top(wire, TOP_SEND, form)
        inner = body["dingtalk_oapi_message_corpconversation_asyncsend_v2_response"]
        assert inner["errcode"] == 0
        assert emu.tasks[inner["task_id"]].forbidden == {"u000004"}
        third = await _top(wire, TOP_SEND, form)
        assert third["dingtalk_oapi_message_corpconversation_asyncsend_v2_response"][
            "errcode"] == 90006
        assert (await wire.result(inner["task_id"]))["errcode"] == 0  # another API's window
    assert [r.path for r in emu.requests].count(RESULT) == 1 and SEND in emu.counts


def test_cli_profile_choices() -> None:
    from dingnotify.testing.__main__ import build_parser

    parser = build_parser()
    for name in ("standard", "professional", "exclusive", "realistic", "unlimited"):
        assert parser.parse_args(["--profile", name]).profile == name
    args = parser.parse_args(["--ban-style", "html", "--idle-timeout", "5"])
    assert (args.ban_style, args.idle_timeout, args.profile) == ("html", 5.0, "unlimited")
    with pytest.raises(SystemExit):
        parser.parse_args(["--profile", "warp"])
