"""TOP gateway: signature vectors, exact wire form, envelopes, retries, redaction."""

from __future__ import annotations

import logging
import traceback
from typing import Any
from urllib.parse import parse_qsl

import pytest

import dingnotify
from dingnotify import LippiContentType, LyDingOpenPara, LyOpenMessage, RetryPolicy, TopClient
from dingnotify._api.top import response_or_error
from dingnotify.testing import MockRequest, MockResponse, MockTransport
from dingnotify.top import top_timestamp
from dingnotify.top._signing import sign
from tests.conftest import Scripted

URL = "https://top.test/router/rest"
ROUTER = "/router/rest"
SECRET = "top-secret-XYZ"
METHOD = "alibaba.lyservice.lippi.message.send"
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01, jitter=False)


def top_with(wire: Scripted, *answers: MockResponse | BaseException,
             **kw: Any) -> TopClient:
    """A TopClient on a MockTransport whose router answers ``answers`` in order."""
    if answers:
        wire.route(ROUTER, *answers)
    kw.setdefault("retry", FAST)
    return TopClient(kw.pop("app_key", "k"), SECRET, url=URL, transport=MockTransport(wire),
                     **kw)


def form_of(request: MockRequest) -> dict[str, str]:
    assert request.content is not None
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))
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


async def test_lippi_exact_wire_form(wire: Scripted) -> None:
    para, message = lippi()
    answer = MockResponse(json={"alibaba_lyservice_lippi_message_send_response": {
        "result": {"success": True, "code": "0", "msg": "ok", "data": "11496248"},
        "request_id": "r4lu3uaf87g2"}})
    async with top_with(wire, answer, app_key="12345678", clock=lambda: 1451620800.0) as top:
        result = await top.lyservice.send_lippi_message(para=para, message=message)
    assert (result.success, result.data, result.request_id) == (True, "11496248",
                                                                "r4lu3uaf87g2")
    (request,) = wire.sent()
    query = dict(request.url.query)
    assert request.method == "POST" and request.url.host == "top.test"
    assert {k: v for k, v in query.items() if k != "sign"} == {
        "method": METHOD, "app_key": "12345678", "timestamp": "2016-01-01 12:00:00",
        "v": "2.0", "format": "json", "sign_method": "hmac-sha256"}
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    form = form_of(request)
    assert form == {
        "ly_ding_open_para_dto": '{"corp_id":"dingxxx","token_grant_type":0,"org_id":123}',
        "ly_open_message_dto": '{"message_id":"768572312","content":"hello",'
                               '"sid":"testSessionId","session_source":"XSpace",'
                               '"content_type":1,"bu_id":"100","sender_type":"4"}',
    }
    expected = sign({**{k: v for k, v in query.items() if k != "sign"}, **form}, SECRET,
                    "hmac-sha256")
    assert query["sign"] == expected


async def test_execute_params_and_simplify(wire: Scripted) -> None:
    answer = MockResponse(json={"result": {"ok": True}, "request_id": "x"})
    async with top_with(wire, answer, simplify=True, sign_method="md5",
                        partner_id="dingnotify") as top:
        body = await top.execute("taobao.demo.call", {"flag": True, "n": 5, "skip": None,
                                                      "obj": {"a": 1, "b": None}})
    assert body == {"result": {"ok": True}, "request_id": "x"}
    (request,) = wire.sent()
    assert request.url.query["simplify"] == "true"
    assert request.url.query["partner_id"] == "dingnotify"
    assert form_of(request) == {"flag": "true", "n": "5", "obj": '{"a":1}'}


@pytest.mark.parametrize(("payload", "code", "sub"), [
    ({"error_response": {"code": 25, "msg": "Invalid signature", "request_id": "q"}}, 25, None),
    ({"error_response": {"code": 15, "msg": "Remote service error",
                         "sub_code": "isv.MOBILE_NUMBER_ILLEGAL", "sub_msg": "号码格式错误",
                         "request_id": "ishfhkt4jeym"}}, 15, "isv.MOBILE_NUMBER_ILLEGAL"),
    ({"error_response": {"code": 50, "msg": "Remote service error",
                         "sub_code": "isv.invalid-parameter", "sub_msg": "非法参数"}}, 50,
     "isv.invalid-parameter"),
])
async def test_error_envelopes(wire: Scripted, payload: dict[str, object], code: int,
                               sub: str | None) -> None:
    async with top_with(wire, MockResponse(json=payload)) as top:
        with pytest.raises(dingnotify.TopError) as info:
            await top.execute(METHOD, {"x": "y"})
    assert len(wire.sent()) == 1  # not retried
    err = info.value
    assert (err.code, err.sub_code, err.method) == (code, sub, METHOD)
    assert isinstance(err, dingnotify.DingNotifyError)


async def test_throttling_codes_are_retried_and_re_signed(wire: Scripted) -> None:
    now = [1451620800.0]

    def clock() -> float:
        now[0] += 1
        return now[0]

    answers = (MockResponse(json={"error_response": {"code": 7, "msg": "App Call Limited"}}),
               MockResponse(json={"error_response": {"code": 10, "msg": "Unavailable"}}),
               MockResponse(503), TimeoutError(),
               MockResponse(json={"error_response": {"code": 15, "msg": "Remote service error",
                                                     "sub_code": "isp.service-busy"}}),
               MockResponse(json={"taobao_demo_call_response": {"ok": 1}}))
    async with top_with(wire, *answers, clock=clock,
                        retry=RetryPolicy(max_attempts=6, base_delay=0.001, max_delay=0.01,
                                          jitter=False)) as top:
        assert await top.execute("taobao.demo.call") == {"ok": 1}
    calls = wire.sent()
    assert len(calls) == 6
    assert len({c.url.query["timestamp"] for c in calls}) == 6
    assert len({c.url.query["sign"] for c in calls}) == 6


async def test_execute_uses_the_one_retry_budget(wire: Scripted) -> None:
    busy = MockResponse(json={"error_response": {"code": 7, "msg": "App Call Limited"}})
    async with top_with(wire, busy, retry=RetryPolicy(max_attempts=3, base_delay=0.001,
                                                      jitter=False)) as top:
        with pytest.raises(dingnotify.TopBusyError) as info:
            await top.execute("taobao.demo.call")
        assert info.value.retryable
        assert len(wire.sent()) == 3
        with pytest.raises(dingnotify.TopBusyError):
            await top.execute("taobao.demo.call", retry=RetryPolicy.none())
        assert len(wire.sent()) == 4
    with pytest.raises(dingnotify.ClientClosedError):
        await top.execute("taobao.demo.call")
    assert len(wire.sent()) == 4


async def test_redirect_is_refused_not_followed(wire: Scripted) -> None:
    moved = MockResponse(302, headers={"Location": "https://evil.test/router/rest"})
    async with top_with(wire, moved) as top:
        with pytest.raises(dingnotify.RedirectError):
            await top.execute("taobao.demo.call")
    assert len(wire.sent()) == 1


async def test_business_failure_raises_with_code(wire: Scripted) -> None:
    para, message = lippi()
    answer = MockResponse(json={"alibaba_lyservice_lippi_message_send_response": {
        "result": {"success": False, "code": "400001", "msg": "SYSTEM_ERROR",
                   "data": "11496248"}, "request_id": "rq"}})
    async with top_with(wire, answer) as top:
        with pytest.raises(dingnotify.TopBusinessError) as info:
            await top.lyservice.send_lippi_message(para=para, message=message)
    assert len(wire.sent()) == 1
    assert (info.value.code, info.value.msg, info.value.request_id) == ("400001",
                                                                        "SYSTEM_ERROR", "rq")


@pytest.mark.parametrize("body", [b"<html>busy</html>", b"[]", b'{"other_response":{}}'])
async def test_bad_bodies_are_decode_errors(wire: Scripted, body: bytes) -> None:
    async with top_with(wire, MockResponse(content=body)) as top:
        with pytest.raises(dingnotify.ResponseDecodeError):
            await top.execute(METHOD)
    assert len(wire.sent()) == 1


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


async def test_bad_calls_send_nothing(wire: Scripted) -> None:
    async with top_with(wire) as top:
        for method, params in (("", {}), ("no dots", {}), (METHOD, {"sign": "x"}),
                               (METHOD, {"x": object()})):
            with pytest.raises(dingnotify.ValidationError):
                await top.execute(method, params)
    assert wire.sent() == []
    with pytest.raises(dingnotify.ValidationError):
        TopClient("k", SECRET, sign_method="sha1")


async def failure(top: TopClient) -> dingnotify.DingNotifyError:
    """Execute and return the error; this frame holds no credential."""
    try:
        await top.execute(METHOD)
    except dingnotify.DingNotifyError as exc:
        return exc
    raise AssertionError("the call succeeded")


def shown(exc: BaseException) -> str:
    return "".join(traceback.TracebackException.from_exception(
        exc, capture_locals=True).format()) + repr(exc) + str(exc)


async def test_secret_session_and_sign_never_leak(
    wire: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with top_with(wire, MockResponse(503), session_key="SESSION-KEY-123",
                        retry=RetryPolicy(max_attempts=2, base_delay=0.001)) as top:
        text = repr(top)
        error = await failure(top)
    assert isinstance(error, dingnotify.HTTPStatusError)
    sign_value = wire.sent()[0].url.query["sign"]
    assert wire.sent()[0].url.query["session"] == "SESSION-KEY-123"
    blob = "\n".join([text, str(error), repr(error), "".join(traceback.format_exception(error)),
                      *(r.getMessage() for r in caplog.records)])
    assert "sign=***" in blob
    for secret in (SECRET, "SESSION-KEY-123", sign_value):
        assert secret not in blob


async def test_echoed_secret_and_session_are_masked(wire: Scripted) -> None:
    echo = MockResponse(json={"error_response": {
        "code": 25, "msg": f"Invalid signature for secret {SECRET}",
        "sub_code": "isv.x", "sub_msg": "session SESSION-KEY-123 expired"}})
    async with top_with(wire, echo, session_key="SESSION-KEY-123") as top:
        error = await failure(top)
    assert isinstance(error, dingnotify.TopError)
    text = str(error) + repr(error) + "".join(traceback.format_exception(error))
    assert SECRET not in text and "SESSION-KEY-123" not in text


def _parse_response(raw: bytes, method: str, *, simplify: bool) -> dict[str, Any]:
    outcome = response_or_error(raw, method, simplify=simplify)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def test_parse_response_unwraps_or_raises() -> None:
    assert _parse_response(b'{"a_b_response":{"x":1}}', "a.b", simplify=False) == {"x": 1}
    assert _parse_response(b'{"x":1}', "a.b", simplify=True) == {"x": 1}
    with pytest.raises(dingnotify.ResponseDecodeError):
        _parse_response(b'{"x":1}', "a.b", simplify=False)
    with pytest.raises(dingnotify.TopBusyError):
        _parse_response(b'{"error_response":{"code":"7","msg":"limited"}}', "a.b",
                        simplify=False)
    with pytest.raises(dingnotify.TopError) as info:
        _parse_response(b'{"error_response":{"code":"x"}}', "a.b", simplify=False)
    assert info.value.code == 0


def test_lippi_content_type_is_the_public_enum() -> None:
    assert dingnotify.LippiContentType is LippiContentType
    assert int(LippiContentType.TEXT) == 1


async def test_session_and_sign_absent_from_frame_locals(wire: Scripted) -> None:
    async with top_with(wire, MockResponse(503), session_key="SESSION-KEY-123",
                        retry=RetryPolicy.none()) as top:
        error = await failure(top)
    sign_value = wire.sent()[0].url.query["sign"]
    text = shown(error)
    for secret in (SECRET, "SESSION-KEY-123", sign_value):
        assert secret not in text
