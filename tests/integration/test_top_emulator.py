"""TopClient against the emulator's /router/rest, which verifies signatures on its own."""

from __future__ import annotations

import pytest

import dingnotify
from dingnotify import LippiContentType, LyDingOpenPara, LyOpenMessage, TopClient
from dingnotify.testing import Emulator, Fault, FaultPlan

PARA = LyDingOpenPara(corp_id="dingxxx", org_id=123, token_grant_type=0)


def message(content: str = "hello") -> LyOpenMessage:
    return LyOpenMessage(message_id="768572312", content=content, sid="testSessionId",
                         session_source="XSpace", content_type=LippiContentType.TEXT, bu_id="100")


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
@pytest.mark.parametrize("simplify", [False, True])
async def test_lippi_send_verified_by_emulator(sign_method: str, simplify: bool) -> None:
    async with Emulator() as emu:
        app = emu.top_app
        async with TopClient(app.app_key, app.app_secret, url=emu.top_url,
                             sign_method=sign_method, simplify=simplify) as top:
            result = await top.lyservice.send_lippi_message(para=PARA, message=message())
        assert result.success and result.request_id
        [stored] = emu.top_messages
        assert stored.message["content"] == "hello" and stored.message["content_type"] == 1


async def test_wrong_secret_is_code_25_not_retried() -> None:
    async with Emulator() as emu, TopClient(emu.top_app.app_key, "wrong-secret",
                                            url=emu.top_url) as top:
        with pytest.raises(dingnotify.TopError) as info:
            await top.lyservice.send_lippi_message(para=PARA, message=message())
        assert info.value.code == 25
        assert emu.count("/router/rest") == 1


async def test_business_failure_and_throttle_retry() -> None:
    plan = FaultPlan(script={"/router/rest": [Fault(path="/router/rest", kind="errcode_90018"),
                                              "ok"]})
    async with Emulator(faults=plan) as emu:
        app = emu.top_app
        async with TopClient(app.app_key, app.app_secret, url=emu.top_url,
                             retry=dingnotify.RetryPolicy(base_delay=0.01)) as top:
            assert (await top.lyservice.send_lippi_message(para=PARA, message=message())).success
            assert emu.count("/router/rest") == 2  # code 7 was retried, re-signed
            with pytest.raises(dingnotify.TopBusinessError) as info:
                await top.lyservice.send_lippi_message(para=PARA, message=message("FAIL"))
        assert info.value.code == "400001"


async def test_unknown_method_and_missing_argument() -> None:
    async with Emulator() as emu:
        app = emu.top_app
        async with TopClient(app.app_key, app.app_secret, url=emu.top_url) as top:
            with pytest.raises(dingnotify.TopError) as info:
                await top.execute("taobao.no.such.api", {"a": "b"})
            assert info.value.code == 22
            with pytest.raises(dingnotify.TopError) as info:
                await top.execute("alibaba.lyservice.lippi.message.send",
                                  {"ly_ding_open_para_dto": PARA})
            assert info.value.code in (40, 41)
