"""The TOP gateway (``/router/rest``): signing, system-parameter errors, lippi message send."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from dingnotify.testing import Emulator, ManualClock, top_sign
from dingnotify.testing._sign import verify

METHOD = "alibaba.lyservice.lippi.message.send"
SECRET = "helloworld-emu"
VECTOR = {"method": "taobao.item.seller.get", "app_key": "12345678", "session": "test",
          "timestamp": "2016-01-01 12:00:00", "format": "json", "v": "2.0",
          "sign_method": "md5", "fields": "num_iid,title,nick,price,num", "num_iid": "11223344"}
MESSAGE = {"message_id": "768572312", "content": "hello", "sid": "testSessionId",
           "session_source": "XSpace", "content_type": 1, "bu_id": "100"}
PARA = {"corp_id": "dingxxx", "isv_org_id": 0, "org_id": 123, "token_grant_type": 0}


def test_published_md5_vector() -> None:
    assert top_sign(VECTOR, "helloworld") == "66987CB115214E59E6EC978214934FB8"
    older = {"method": "taobao.user.seller.get", "timestamp": "2013-05-06 13:52:03",
             "format": "xml", "app_key": "test", "v": "2.0", "fields": "nick",
             "sign_method": "md5", "session": "test"}
    assert top_sign(older, "test") == "72CB4D809B375A54502C09360D879C64"


def test_hmac_vectors_and_verify() -> None:
    assert top_sign({**VECTOR, "sign_method": "hmac"}, "helloworld") == \
        "D56D7858309C31B6251083A874D48273"
    assert top_sign({**VECTOR, "sign_method": "hmac-sha256"}, "helloworld") == (
        "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8")
    signed = {**VECTOR, "sign": "66987cb115214e59e6ec978214934fb8", "empty": ""}
    assert verify(signed, "helloworld")  # case-insensitive, empty values skipped
    assert not verify({**signed, "num_iid": "1"}, "helloworld")


def _now_gmt8(clock: ManualClock) -> str:
    return datetime.fromtimestamp(clock(), timezone(timedelta(hours=8))).strftime(
        "%Y-%m-%d %H:%M:%S")


def _params(clock: ManualClock, sign_method: str = "md5", **extra: str) -> dict[str, str]:
    params = {"method": METHOD, "app_key": "12345678", "timestamp": _now_gmt8(clock),
              "format": "json", "v": "2.0", "sign_method": sign_method,
              "ly_ding_open_para_dto": json.dumps(PARA, separators=(",", ":")),
              "ly_open_message_dto": json.dumps(MESSAGE, separators=(",", ":"))}
    params.update(extra)
    params = {k: v for k, v in params.items() if v != "<drop>"}
    params["sign"] = top_sign(params, SECRET)
    return params


async def _call(emu: Emulator, params: dict[str, str], session: aiohttp.ClientSession,
                split: bool = True) -> Any:
    """System params in the query, business params in a form body (like the Java SDK)."""
    business = {"ly_ding_open_para_dto", "ly_open_message_dto"} if split else set()
    query = {k: v for k, v in params.items() if k not in business}
    form = {k: v for k, v in params.items() if k in business}
    async with session.post(emu.top_url, params=query, data=form or None) as resp:
        assert resp.status == 200
        return await resp.json(content_type=None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def top(clock: ManualClock) -> Any:
    async with Emulator(clock=clock) as emu, aiohttp.ClientSession() as session:
        yield emu, session


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
async def test_lippi_send_each_sign_method(top: Any, clock: ManualClock,
                                           sign_method: str) -> None:
    emu, session = top
    body = await _call(emu, _params(clock, sign_method), session)
    response = body["alibaba_lyservice_lippi_message_send_response"]
    assert response["result"]["success"] is True and response["result"]["code"] == "0"
    assert response["result"]["data"] and len(response["request_id"]) == 13
    assert emu.top_messages[-1].message["sid"] == "testSessionId"


async def test_simplify_and_get_with_everything_in_query(top: Any, clock: ManualClock) -> None:
    emu, session = top
    params = _params(clock, simplify="true")
    async with session.get(emu.top_url, params=params) as resp:
        body = await resp.json(content_type=None)
    assert set(body) == {"result", "request_id"} and body["result"]["success"] is True
    epoch_ms = _params(clock, timestamp=str(int(clock() * 1000)))
    assert "alibaba_lyservice_lippi_message_send_response" in await _call(emu, epoch_ms,
                                                                          session)


async def test_xml_is_the_default_format(top: Any, clock: ManualClock) -> None:
    emu, session = top
    params = _params(clock, format="<drop>")
    async with session.post(emu.top_url, params=params) as resp:
        text = await resp.text()
    assert "<alibaba_lyservice_lippi_message_send_response><result>" in text
    assert "<success>true</success>" in text


async def test_business_failure(top: Any, clock: ManualClock) -> None:
    emu, session = top
    failing = {**MESSAGE, "content": "FAIL"}
    params = _params(clock, ly_open_message_dto=json.dumps(failing))
    result = (await _call(emu, params, session))[
        "alibaba_lyservice_lippi_message_send_response"]["result"]
    assert result == {"success": False, "code": "400001", "msg": "SYSTEM_ERROR"}
    async with Emulator(clock=clock, top_business_failure=True) as emu2:
        body = await _call(emu2, _params(clock, simplify="true"), session)
    assert body["result"]["success"] is False


@pytest.mark.parametrize(("patch", "code", "sub_code"), [
    ({"sign": "0" * 32}, 25, None),
    ({"sign": "<drop>"}, 24, None),
    ({"method": "<drop>"}, 21, None),
    ({"method": "taobao.nope"}, 22, None),
    ({"app_key": "<drop>"}, 28, None),
    ({"app_key": "999"}, 29, None),
    ({"timestamp": "<drop>"}, 30, None),
    ({"timestamp": "2016-01-01 12:00:00"}, 31, None),
    ({"timestamp": "yesterday"}, 31, None),
    ({"v": "<drop>"}, 32, None),
    ({"v": "1.0"}, 34, None),
    ({"ly_open_message_dto": "<drop>"}, 40, "isv.missing-parameter"),
    ({"ly_ding_open_para_dto": "<drop>"}, 40, "isv.missing-parameter"),
    ({"ly_open_message_dto": "{not json"}, 41, "isv.invalid-parameter"),
    ({"ly_open_message_dto": json.dumps({**MESSAGE, "sid": ""})}, 41, "isv.invalid-parameter"),
    ({"ly_open_message_dto": json.dumps({k: v for k, v in MESSAGE.items() if k != "bu_id"})},
     41, "isv.invalid-parameter"),
    ({"ly_open_message_dto": json.dumps({**MESSAGE, "content_type": 11})}, 41,
     "isv.invalid-parameter"),
])
async def test_gateway_errors(top: Any, clock: ManualClock, patch: dict[str, str], code: int,
                              sub_code: str | None) -> None:
    emu, session = top
    sign = patch.pop("sign", None)
    params = _params(clock, **patch)
    if sign == "<drop>":
        del params["sign"]
    elif sign is not None:
        params["sign"] = sign
    body = await _call(emu, params, session, split=False)
    error = body["error_response"]
    assert error["code"] == code, error
    assert error.get("sub_code") == sub_code and len(error["request_id"]) == 13
    assert not emu.top_messages


async def test_sign_covers_body_params(top: Any, clock: ManualClock) -> None:
    emu, session = top
    params = _params(clock)
    params["ly_open_message_dto"] = params["ly_open_message_dto"].replace("hello", "hellO")
    body = await _call(emu, params, session)
    assert body["error_response"]["code"] == 25


async def test_top_rate_limit(clock: ManualClock) -> None:
    async with Emulator(clock=clock, profile="realistic") as emu, \
            aiohttp.ClientSession() as session:
        start = time.monotonic()
        codes = []
        for _ in range(42):
            body = await _call(emu, _params(clock), session)
            codes.append(body.get("error_response", {}).get("code", 0))
        assert time.monotonic() - start < 1.0, "too slow to test a 1 s window"
    assert codes.count(7) == 2 and emu.throttled[7] == 2
