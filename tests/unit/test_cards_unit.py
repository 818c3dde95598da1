"""``client.cards`` and ``dingnotify.stream``'s frames with a mocked transport: answers
read, errors mapped, secrets kept, the budget the governor gives cards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dingnotify import (
    DingTalkClient,
    PermissionDeniedError,
    Quota,
    RateLimitedError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from dingnotify.cards import CARD_API, CARD_QPS, CardTemplateError, card_param_map
from dingnotify.stream import CardAction, CardUpdate
from dingnotify.stream._frames import ack, decode_frame
from dingnotify.stream._seen import SeenIds
from dingnotify.testing import MockRequest, MockResponse, MockTransport

API = "https://api.test"
SECRET = "cards-secret-S3CR3T"
TOKEN = "tokC0123456789abcdef0123456789ab"
DELIVER = "/v1.0/card/instances/createAndDeliver"
FAST = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, rate_limit_attempts=3,
                   jitter=False)


class Server:
    def __init__(self, *answers: MockResponse) -> None:
        self.answers = list(answers)
        self.requests: list[MockRequest] = []

    def __call__(self, request: MockRequest) -> MockResponse:
        if request.url.path == "/v1.0/oauth2/accessToken":
            return MockResponse(json={"accessToken": TOKEN, "expireIn": 7200})
        self.requests.append(request)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def client(server: Server, **kw: Any) -> DingTalkClient:
    kw.setdefault("quota", None)
    return DingTalkClient("k", SECRET, api_base_url=API, robot_code="robot-1",
                          transport=MockTransport(server), retry=FAST, **kw)


def error(status: int, code: str) -> MockResponse:
    return MockResponse(status, json={"code": code, "message": code, "requestid": "REQ-9"})


def delivered(*results: dict[str, Any]) -> MockResponse:
    return MockResponse(json={"success": True, "result": {"outTrackId": "o",
                                                          "deliverResults": list(results)}})


def test_card_data_is_strings_only() -> None:
    assert card_param_map({"a": 1, "b": True, "c": [1, 2], "d": {"x": None}, "e": "s"}) == {
        "a": "1", "b": "true", "c": "[1,2]", "d": '{"x":null}', "e": "s"}
    for bad in ({"k": object()}, {"": "v"}, {"k" * 101: "v"}, {"k": "v" * 1025}):
        with pytest.raises(ValidationError):
            card_param_map(bad)


async def test_results_are_matched_by_space_id_or_in_order() -> None:
    server = Server(
        delivered({"spaceType": "IM_ROBOT", "spaceId": "u2", "success": False,
                   "errorMsg": "blocked"},
                  {"spaceType": "IM_ROBOT", "spaceId": "u1", "success": True,
                   "carrierId": "c1"}),
        delivered({"spaceType": "IM_ROBOT", "spaceId": "x", "success": True},
                  {"spaceType": "IM_ROBOT", "spaceId": "y", "success": False}),
        delivered({"spaceType": "IM_ROBOT", "spaceId": "u1", "success": True}))
    async with client(server) as c:
        by_id = await c.cards.deliver("t", out_track_id="o", data={}, userids=["u1", "u2"])
        in_order = await c.cards.deliver("t", out_track_id="o", data={}, userids=["u1", "u2"])
        missing = await c.cards.deliver("t", out_track_id="o", data={}, userids=["u1", "u2"])
    assert (by_id.delivered, by_id.failed, by_id.process_query_keys) == (
        ["u1"], {"u2": "blocked"}, {"u1": "c1"})
    assert (in_order.delivered, in_order.failed) == (["u1"], {"u2": "delivery failed"})
    assert missing.failed == {"u2": "DingTalk's answer named no result for this space"}


@pytest.mark.parametrize(("answer", "kind"), [
    (error(400, "param.templateUnpublished"), CardTemplateError),
    (error(400, "param.templateNotExist"), CardTemplateError),
    (error(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied"), PermissionDeniedError),
    (error(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"), RateLimitedError),
    (error(500, "system.busy"), ServerError),
    (MockResponse(json={"success": False}), ResponseDecodeError),
])
async def test_errors_are_typed_and_keep_secrets_out(answer: MockResponse,
                                                     kind: type[Exception]) -> None:
    server = Server(answer)
    async with client(server) as c:
        with pytest.raises(kind) as raised:
            await c.cards.update("o", data={"a": "b"})
    text = "".join(str(e) + repr(e) for e in (raised.value, raised.value.__cause__))
    assert SECRET not in text and TOKEN not in text
    if kind is not ResponseDecodeError and kind is not ServerError:
        assert getattr(raised.value, "request_id", None) == "REQ-9"
    retried = kind in (RateLimitedError, ServerError)
    assert len(server.requests) == (3 if retried else 1)


async def test_a_card_that_exists_is_a_delivery_that_happened() -> None:
    server = Server(error(400, "param.cardAlreadyExist"))
    async with client(server) as c:
        got = await c.cards.deliver("t", out_track_id="o", data={"a": 1}, userids=["u1"],
                                    open_conversation_id="cid")
    assert got.existed and got.delivered == ["u1", "cid"] and got.failed == {}
    body = json.loads(server.requests[0].content or b"")
    assert body["openSpaceId"] == "dtv1.card//IM_ROBOT.u1;IM_GROUP.cid"


async def test_every_card_call_draws_on_one_budget_at_card_qps() -> None:
    async with client(Server(delivered()), quota=Quota()) as c:
        governor = c.cards._caller.governor
        assert governor.limits[CARD_API] == (CARD_QPS, 1.0)  # type: ignore[union-attr]
        c.cards.qps = 40
        assert governor.limits[CARD_API] == (40, 1.0)  # type: ignore[union-attr]
        with pytest.raises(ValidationError):
            c.cards.qps = 0


def test_card_update_answers_in_the_documented_wrapper() -> None:
    answer = json.loads(CardUpdate(data={"n": 3}, private_data={"liked": True}).response())
    assert answer == {"response": {
        "cardData": {"cardParamMap": {"n": "3"}},
        "userPrivateData": {"cardParamMap": {"liked": "true"}},
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True}}}
    replace = json.loads(CardUpdate(data={}, replace=True).response())["response"]
    assert replace["cardUpdateOptions"]["updateCardDataByKey"] is False


def test_a_card_action_reads_strings_inside_strings() -> None:
    content = json.dumps({"cardPrivateData": {"actionIds": ["b1"], "params": {"x": "1"}}})
    frame = decode_frame(json.dumps({
        "specVersion": "1.0", "type": "CALLBACK",
        "headers": {"topic": "/v1.0/card/instances/callback", "messageId": "m1",
                    "newHeader": "kept"},
        "data": json.dumps({"outTrackId": "o", "userId": "u", "corpId": "c",
                            "spaceType": "im", "spaceId": "cid", "content": content})}))
    assert frame is not None and frame.headers["newHeader"] == "kept"
    action = CardAction.parse(frame)
    assert (action.out_track_id, action.userid, action.corp_id, action.action_ids,
            action.params, action.message_id) == ("o", "u", "c", ["b1"], {"x": "1"}, "m1")
    assert decode_frame("not json") is None
    sent = json.loads(ack("m1", 500))
    assert sent["code"] == 500 and sent["headers"]["messageId"] == "m1"
    assert isinstance(sent["data"], str)


def test_seen_ids_stay_bounded_in_count_and_age() -> None:
    now = [0.0]
    seen = SeenIds(size=3, seconds=10, clock=lambda: now[0])
    for n in range(5):
        seen.add(f"m{n}", None)
    assert len(seen) == 3 and seen.get("m0") is None and seen.get("m4") is not None
    now[0] = 11
    assert seen.get("m4") is None and len(seen) == 0
