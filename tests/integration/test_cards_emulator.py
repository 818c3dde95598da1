"""``client.cards`` against the emulator: wire bodies, partial success, idempotency,
updates, streaming, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dingnotify import (
    DingTalkClient,
    PermissionDeniedError,
    Quota,
    RateLimitedError,
    RetryPolicy,
    ValidationError,
)
from dingnotify.cards import CardDelivery, CardTemplateError
from dingnotify.testing import Emulator, Fault, FaultPlan, RateLimits
from tests.emulated import client_for

DELIVER = "/v1.0/card/instances/createAndDeliver"
UPDATE = "/v1.0/card/instances"
STREAM = "/v1.0/card/streaming"
TPL = "tpl-approval.schema"


def cards_client(emu: Emulator, **kw: Any) -> DingTalkClient:
    kw.setdefault("robot_code", emu.robot_code)
    return client_for(emu, api_base_url=emu.url, **kw)


def bodies(emu: Emulator, path: str) -> list[dict[str, Any]]:
    return [r.json for r in emu.requests if r.path == path]


@pytest.fixture
async def emu() -> Any:
    async with Emulator() as emulator:
        emulator.add_card_template(TPL, ["title", "amount", "status", "role", "content"])
        yield emulator


async def test_deliver_sends_the_documented_body_and_every_user_sees_the_card(
        emu: Emulator) -> None:
    async with cards_client(emu) as client:
        got = await client.cards.deliver(
            TPL, out_track_id="order-42", data={"title": "Approve order 42", "amount": 1200},
            private_data={"u000001": {"role": "approver"}}, userids=["u000001", "u000002"])
    assert got.out_track_id == "order-42"
    assert got.delivered == ["u000001", "u000002"] and got.failed == {}
    assert set(got.process_query_keys) == {"u000001", "u000002"}
    [body] = bodies(emu, DELIVER)
    assert body == {
        "cardTemplateId": TPL, "outTrackId": "order-42",
        "cardData": {"cardParamMap": {"title": "Approve order 42", "amount": "1200"}},
        "privateData": {"u000001": {"cardParamMap": {"role": "approver"}}},
        "openSpaceId": "dtv1.card//IM_ROBOT.u000001;IM_ROBOT.u000002", "userIdType": 1,
        "imRobotOpenSpaceModel": {"supportForward": True},
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": emu.robot_code},
        "callbackType": "STREAM"}
    assert emu.card_view("order-42", "u000001") == {
        "title": "Approve order 42", "amount": "1200", "role": "approver"}
    assert "role" not in emu.card_view("order-42", "u000002")


async def test_group_delivery_and_http_callbacks(emu: Emulator) -> None:
    async with cards_client(emu) as client:
        got = await client.cards.deliver(TPL, out_track_id="g-1", data={"title": "t"},
                                         open_conversation_id="cidAbC==", callback="http",
                                         route_key="route-1")
    assert got.delivered == ["cidAbC=="]
    [body] = bodies(emu, DELIVER)
    assert body["openSpaceId"] == "dtv1.card//IM_GROUP.cidAbC=="
    assert body["imGroupOpenDeliverModel"] == {"robotCode": emu.robot_code}
    assert body["callbackType"] == "HTTP" and body["callbackRouteKey"] == "route-1"
    assert emu.card("g-1").delivered_to == [("IM_GROUP", "cidAbC==")]


async def test_partial_success_at_http_200_names_each_failed_user(emu: Emulator) -> None:
    emu.cards.fail_spaces["u000003"] = "user has blocked the robot"
    async with cards_client(emu) as client:
        got = await client.cards.deliver(TPL, out_track_id="p-1", data={"title": "t"},
                                         userids=["u000001", "nobody", "u000003"])
    assert got.delivered == ["u000001"]
    assert got.failed == {"nobody": "userId not exist", "u000003": "user has blocked the robot"}


@pytest.mark.parametrize("mode", ["error", "noop"])
async def test_a_repeated_delivery_is_a_success_and_makes_no_second_card(
        emu: Emulator, mode: str) -> None:
    emu.cards.existing_card = mode  # type: ignore[assignment]
    async with cards_client(emu) as client:
        first = await client.cards.deliver(TPL, out_track_id="o-1", data={"title": "t"},
                                           userids=["u000001"])
        again = await client.cards.deliver(TPL, out_track_id="o-1", data={"title": "t"},
                                           userids=["u000001"])
    assert first.delivered == again.delivered == ["u000001"]
    assert again.existed is (mode == "error")
    assert emu.card("o-1").delivered_to == [("IM_ROBOT", "u000001")]


async def test_a_retry_after_a_lost_answer_is_idempotent() -> None:
    lost = Fault(DELIVER, "delay", delay=1.0, after_accept=True)
    async with Emulator(faults=FaultPlan(script={DELIVER: [lost]})) as emu:
        emu.add_card_template(TPL, ["title"])
        async with cards_client(emu, timeout=0.3,
                                retry=RetryPolicy(max_attempts=3, base_delay=0.01)) as c:
            got = await c.cards.deliver(TPL, out_track_id="r-1", data={"title": "t"},
                                        userids=["u000001"])
        assert got == CardDelivery(out_track_id="r-1", delivered=["u000001"], existed=True)
        assert emu.count(DELIVER) == 2
        assert len(emu.card("r-1").results) == 1


async def test_update_merges_by_key_or_overwrites(emu: Emulator) -> None:
    async with cards_client(emu) as client:
        await client.cards.deliver(TPL, out_track_id="u-1", data={"title": "t", "amount": 1},
                                   userids=["u000001"])
        await client.cards.update("u-1", data={"status": "approved"})
        assert emu.card("u-1").public == {"title": "t", "amount": "1", "status": "approved"}
        await client.cards.update("u-1", data={"status": "done"}, replace=True)
        assert emu.card("u-1").public == {"status": "done"}
        await client.cards.update("u-1", private_data={"u000001": {"role": "viewer"}})
    merge, replace, private = bodies(emu, UPDATE)
    assert merge == {"outTrackId": "u-1", "userIdType": 1,
                     "cardData": {"cardParamMap": {"status": "approved"}},
                     "cardUpdateOptions": {"updateCardDataByKey": True,
                                           "updatePrivateDataByKey": True}}
    assert replace["cardUpdateOptions"] == {"updateCardDataByKey": False,
                                            "updatePrivateDataByKey": False}
    assert private["privateData"] == {"u000001": {"cardParamMap": {"role": "viewer"}}}
    assert emu.card_view("u-1", "u000001") == {"status": "done", "role": "viewer"}


async def test_streaming_paces_writes_and_finalizes_on_exit(emu: Emulator) -> None:
    async with cards_client(emu) as client:
        await client.cards.deliver(TPL, out_track_id="s-1", data={"title": "t"},
                                   userids=["u000001"])
        async with client.cards.streaming("s-1", key="content", interval=60) as s:
            for word in ("Hello", ", ", "world"):
                await s.write(word)
    sent = bodies(emu, STREAM)
    assert [b["content"] for b in sent] == ["Hello", "Hello, world"]
    assert [b["isFinalize"] for b in sent] == [False, True]
    assert all(b["isFull"] is True and b["key"] == "content" and not b["isError"]
               for b in sent)
    assert len({b["guid"] for b in sent}) == 2
    card = emu.card("s-1")
    assert card.streams["content"] == "Hello, world"
    assert card.stream_state["content"] == "finished"


async def test_streaming_marks_the_card_failed_when_the_block_raises(emu: Emulator) -> None:
    async with cards_client(emu) as client:
        await client.cards.deliver(TPL, out_track_id="s-2", data={"title": "t"},
                                   userids=["u000001"])
        with pytest.raises(KeyError):
            async with client.cards.streaming("s-2", interval=0) as s:
                await s.write("partial")
                raise KeyError("model failed")
        with pytest.raises(ValidationError):
            async with client.cards.streaming("s-2", interval=0) as s:
                await s.write("x" * 1025)
    assert emu.card("s-2").stream_state["content"] == "failed"


async def test_errors_map_onto_the_tree_with_request_ids(emu: Emulator) -> None:
    emu.add_card_template("draft.schema", ["title"], published=False)
    async with cards_client(emu) as client:
        with pytest.raises(CardTemplateError) as unpublished:
            await client.cards.deliver("draft.schema", out_track_id="e-1",
                                       data={"title": "t"}, userids=["u000001"])
        with pytest.raises(CardTemplateError) as missing:
            await client.cards.deliver("nope.schema", out_track_id="e-2",
                                       data={"title": "t"}, userids=["u000001"])
        emu.cards.denied.add("Card.Instance.Write")
        with pytest.raises(PermissionDeniedError) as denied:
            await client.cards.update("e-1", data={"title": "x"})
    assert unpublished.value.sub_code == "param.templateUnpublished"
    assert missing.value.sub_code == "param.templateNotExist"
    for error in (unpublished.value, missing.value, denied.value):
        assert error.request_id and error.retryable is False
        assert client.app_key not in str(error) and emu.app.app_secret not in str(error)
    assert emu.count(DELIVER) == 2  # neither was retried


async def test_a_burst_of_500_updates_draws_no_rate_limit_answer() -> None:
    async with Emulator(profile="exclusive") as emu:
        emu.add_card_template(TPL, ["status"])
        async with cards_client(emu, quota=Quota.exclusive()) as client:
            client.cards.qps = 60
            await client.cards.deliver(TPL, out_track_id="b-1", data={"status": "0"},
                                       userids=["u000001"])
            await asyncio.gather(*(client.cards.update("b-1", data={"status": str(i)})
                                   for i in range(500)))
        assert emu.cards.calls["PUT " + UPDATE] == 500
        assert emu.robot.throttled.total() == 0


async def test_bad_input_is_refused_before_any_request(emu: Emulator) -> None:
    async with cards_client(emu) as client:
        for bad in (dict(userids="u000001"), dict(userids=[]),
                    dict(userids=[f"u{i}" for i in range(11)]),
                    dict(userids=["u1"], callback="http"),
                    dict(userids=["u1"], data={"k": "x" * 1025})):
            options: dict[str, Any] = {"data": {"title": "t"}, **bad}
            with pytest.raises(ValidationError):
                await client.cards.deliver(TPL, out_track_id="v-1", **options)
    assert emu.count(DELIVER) == 0


async def test_qps_answers_are_rate_limited_errors_with_a_pause() -> None:
    async with Emulator(profile=RateLimits(qps=1)) as emu:
        emu.add_card_template(TPL, ["title"])
        async with cards_client(emu) as client:  # no client-side quota: DingTalk says no
            await client.cards.deliver(TPL, out_track_id="q-1", data={"title": "t"},
                                       userids=["u000001"])
            await client.cards.update("q-1", data={"title": "x"})
            with pytest.raises(RateLimitedError) as limited:
                await client.cards.update("q-1", data={"title": "y"})
    assert limited.value.pause == 1.0 and limited.value.request_id
    assert limited.value.sub_code == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"


async def test_a_streaming_429_is_rate_limited_and_retried(emu: Emulator) -> None:
    emu.cards.streaming_qps = 1
    async with cards_client(emu) as client:
        await client.cards.deliver(TPL, out_track_id="s-3", data={"title": "t"},
                                   userids=["u000001"])
        with pytest.raises(RateLimitedError) as limited:
            async with client.cards.streaming("s-3", interval=0) as s:
                await s.write("a")
                await s.write("b")
    assert limited.value.errcode == 429 and limited.value.pause == 1.0
