"""TOP gateway: signature vectors, exact wire form, envelopes, retries, redaction."""

from __future__ import annotations

import logging
import re
import traceback
from urllib.parse import parse_qsl

import pytest
from aioresponses import aioresponses

import dingnotify
from dingnotify import LippiContentType, LyDingOpenPara, LyOpenMessage, RetryPolicy, TopClient
from dingnotify.top import sign, top_timestamp
from tests.conftest import sent

URL = "https://top.test/router/rest"
SECRET = "top-secret-XYZ"
METHOD = "alibaba.lyservice.lippi.message.send"
ROUTER = re.compile(r"^https://top\.test/router/rest\?.*")
VECTOR_1 = {"method": "taobao.item.seller.get", "app_key": "12345678", "session": "test",
            "timestamp": "2016-01-01 12:00:00", "format": "json", "v": "2.0",
            "fields": "num_iid,title,nick,price,num", "num_iid": "11223344"}


@pytest.mark.parametrize(("method", "expected"), [
    ("md5", "66987CB115214E59E6EC978214934FB8"),
    ("hmac", "D56D7858309C31B6251083A874D48273"),
    ("hmac-sha256", "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8"),
])
def test_published_and_derived_vectors(method: str, expected: str) -> None:
    assert sign({**VECTOR_1, "sign_method": method}, "helloworld", method) == expected


def test_older_md5_vector_and_empty_values() -> None:
    params = {"method": "taobao.user.seller.get", "timestamp": "2013-05-06 13:52:03",
              "format": "xml", "app_key": "test", "v": "2.0", "fields": "nick",
              "sign_method": "md5", "session": "test"}
    assert sign(params, "test", "md5") == "72CB4D809B375A54502C09360D879C64"
    assert sign({**params, "empty": "", "sign": "X"}, "test", "md5") == (
        "72CB4D809B375A54502C09360D879C64")


def test_timestamp_is_gmt8() -> None:
    assert top_timestamp(1451620800.0) == "2016-01-01 12:00:00"  # 04:00 UTC


def lippi() -> tuple[LyDingOpenPara, LyOpenMessage]:
    return (LyDingOpenPara(corp_id="dingxxx", org_id=123, token_grant_type=0),
            LyOpenMessage(message_id="768572312", content="hello", sid="testSessionId",
                          session_source="XSpace", content_type=LippiContentType.TEXT, bu_id="100",
                          sender_type="4"))


async def test_lippi_exact_wire_form() -> None:
    para, message = lippi()
    with aioresponses() as m:
        m.post(ROUTER, payload={"alibaba_lyservice_lippi_message_send_response": {
            "result": {"success": True, "code": "0", "msg": "ok", "data": "11496248"},
            "request_id": "r4lu3uaf87g2"}})
        async with TopClient("12345678", SECRET, url=URL, clock=lambda: 1451620800.0) as top:
            result = await top.lyservice.send_lippi_message(para=para, message=message)
        assert (result.success, result.data, result.request_id) == (True, "11496248",
                                                                    "r4lu3uaf87g2")
        method, url, kwargs = sent(m)[0]
    query = dict(url.query)
    assert method == "POST"
    assert {k: v for k, v in query.items() if k != "sign"} == {
        "method": METHOD, "app_key": "12345678", "timestamp": "2016-01-01 12:00:00",
        "v": "2.0", "format": "json", "sign_method": "hmac-sha256"}
    assert kwargs["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    form = dict(parse_qsl(kwargs["data"].decode()))
    assert form == {
        "ly_ding_open_para_dto": '{"corp_id":"dingxxx","token_grant_type":0,"org_id":123}',
        "ly_open_message_dto": '{"message_id":"768572312","content":"hello",'
                               '"sid":"testSessionId","session_source":"XSpace",'
                               '"content_type":1,"bu_id":"100","sender_type":"4"}',
    }
    expected = sign({**{k: v for k, v in query.items() if k != "sign"}, **form}, SECRET,
                    "hmac-sha256")
    assert query["sign"] == expected


async def test_execute_params_and_simplify() -> None:
    with aioresponses() as m:
        m.post(ROUTER, payload={"result": {"ok": True}, "request_id": "x"})
        async with TopClient("k", SECRET, url=URL, simplify=True, sign_method="md5",
                             partner_id="dingnotify") as top:
            body = await top.execute("taobao.demo.call", {"flag": True, "n": 5, "skip": None,
                                                          "obj": {"a": 1, "b": None}})
        assert body == {"result": {"ok": True}, "request_id": "x"}
        _, url, kwargs = sent(m)[0]
    assert url.query["simplify"] == "true" and url.query["partner_id"] == "dingnotify"
    assert dict(parse_qsl(kwargs["data"].decode())) == {"flag": "true", "n": "5",
                                                        "obj": '{"a":1}'}


@pytest.mark.parametrize(("payload", "code", "sub"), [
    ({"error_response": {"code": 25, "msg": "Invalid signature", "request_id": "q"}}, 25, None),
    ({"error_response": {"code": 15, "msg": "Remote service error",
                         "sub_code": "isv.MOBILE_NUMBER_ILLEGAL", "sub_msg": "号码格式错误",
                         "request_id": "ishfhkt4jeym"}}, 15, "isv.MOBILE_NUMBER_ILLEGAL"),
    ({"error_response": {"code": 50, "msg": "Remote service error",
                         "sub_code": "isv.invalid-parameter", "sub_msg": "非法参数"}}, 50,
     "isv.invalid-parameter"),
])
async def test_error_envelopes(payload: dict[str, object], code: int, sub: str | None) -> None:
    with aioresponses() as m:
        m.post(ROUTER, payload=payload, repeat=True)
        async with TopClient("k", SECRET, url=URL) as top:
            with pytest.raises(dingnotify.TopError) as info:
                await top.execute(METHOD, {"x": "y"})
        assert len(sent(m)) == 1  # not retried
    err = info.value
    assert (err.code, err.sub_code, err.method) == (code, sub, METHOD)
    assert isinstance(err, dingnotify.DingNotifyError)


async def test_throttling_codes_are_retried_and_re_signed() -> None:
    now = [1451620800.0]

    def clock() -> float:
        now[0] += 1
        return now[0]

    with aioresponses() as m:
        m.post(ROUTER, payload={"error_response": {"code": 7, "msg": "App Call Limited"}})
        m.post(ROUTER, payload={"error_response": {"code": 10, "msg": "Service Unavailable"}})
        m.post(ROUTER, payload={"taobao_demo_call_response": {"ok": 1}})
        async with TopClient("k", SECRET, url=URL, clock=clock,
                             retry=RetryPolicy(base_delay=0.001, jitter=False)) as top:
            assert await top.execute("taobao.demo.call") == {"ok": 1}
        calls = sent(m)
    assert len(calls) == 3
    assert len({c[1].query["timestamp"] for c in calls}) == 3
    assert len({c[1].query["sign"] for c in calls}) == 3


async def test_business_failure_raises_with_code() -> None:
    para, message = lippi()
    with aioresponses() as m:
        m.post(ROUTER, payload={"alibaba_lyservice_lippi_message_send_response": {
            "result": {"success": False, "code": "400001", "msg": "SYSTEM_ERROR",
                       "data": "11496248"}, "request_id": "rq"}})
        async with TopClient("k", SECRET, url=URL) as top:
            with pytest.raises(dingnotify.TopBusinessError) as info:
                await top.lyservice.send_lippi_message(para=para, message=message)
    assert (info.value.code, info.value.msg, info.value.request_id) == ("400001",
                                                                        "SYSTEM_ERROR", "rq")


@pytest.mark.parametrize("body", [b"<html>busy</html>", b"[]", b'{"other_response":{}}'])
async def test_bad_bodies_are_decode_errors(body: bytes) -> None:
    with aioresponses() as m:
        m.post(ROUTER, body=body)
        async with TopClient("k", SECRET, url=URL) as top:
            with pytest.raises(dingnotify.ResponseDecodeError):
                await top.execute(METHOD)


@pytest.mark.parametrize("build", [
    lambda: LyOpenMessage(message_id="", content="c", sid="s", session_source="x",
                          content_type=1, bu_id="1"),
    lambda: LyOpenMessage(message_id="m", content="c", sid="s", session_source="x",
                          content_type=11, bu_id="1"),
    lambda: LyOpenMessage(message_id="m", content="c", sid="s", session_source="x",
                          content_type=1, bu_id="1", production_type=2),
    lambda: LyDingOpenPara(token_grant_type=3),
    lambda: LyDingOpenPara(org_id="123"),
])
def test_invalid_dtos(build: object) -> None:
    with pytest.raises(dingnotify.ValidationError):
        build()  # type: ignore[operator]


async def test_bad_calls_send_nothing() -> None:
    with aioresponses() as m:
        async with TopClient("k", SECRET, url=URL) as top:
            for method, params in (("", {}), ("no dots", {}), (METHOD, {"sign": "x"}),
                                   (METHOD, {"x": object()})):
                with pytest.raises(dingnotify.ValidationError):
                    await top.execute(method, params)
        assert sent(m) == []
    with pytest.raises(dingnotify.ValidationError):
        TopClient("k", SECRET, sign_method="sha1")


async def test_secret_session_and_sign_never_leak(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with aioresponses() as m:
        m.post(ROUTER, status=503, repeat=True)
        async with TopClient("k", SECRET, url=URL, session_key="SESSION-KEY-123",
                             retry=RetryPolicy(max_attempts=2, base_delay=0.001)) as top:
            text = repr(top)
            with pytest.raises(dingnotify.HTTPStatusError) as info:
                await top.execute(METHOD)
        sign_value = sent(m)[0][1].query["sign"]
    blob = "\n".join([text, str(info.value), "".join(traceback.format_exception(info.value)),
                      *(r.getMessage() for r in caplog.records)])
    assert "sign=***" in blob
    for secret in (SECRET, "SESSION-KEY-123", sign_value):
        assert secret not in blob
