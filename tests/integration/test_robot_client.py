"""``client.robot`` against the emulator: exact wire bodies, tokens, errors, fan-out."""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import pytest

from dingnotify import (
    ConnectionFailedError,
    CredentialsError,
    DingTalkClient,
    InvalidArgumentError,
    Quota,
    RetryPolicy,
    Text,
    TokenError,
    ValidationError,
)
from dingnotify.robot import (
    RobotBroadcastReport,
    RobotMessage,
    RobotSendResult,
    SampleActionCard,
    SampleActionCard2,
    SampleActionCard3,
    SampleActionCard4,
    SampleActionCard5,
    SampleAudio,
    SampleFile,
    SampleImageMsg,
    SampleLink,
    SampleMarkdown,
    SampleText,
    SampleVideo,
)
from dingnotify.testing import Emulator, Fault, FaultPlan, ManualClock, Org
from tests.emulated import client_for

TOKEN = "/v1.0/oauth2/accessToken"
SEND = "/v1.0/robot/oToMessages/batchSend"
GROUP = "/v1.0/robot/groupMessages/send"
RECALL = "/v1.0/robot/otoMessages/batchRecall"
STATUS = "/v1.0/robot/oToMessages/readStatus"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


def robot_client(emu: Emulator, clock: ManualClock | None = None, **kw: Any) -> DingTalkClient:
    kw.setdefault("robot_code", emu.robot_code)
    return client_for(emu, clock, api_base_url=emu.url, **kw)


def _buttons(n: int) -> dict[str, str]:
    return {f"action_{kind}_{i}": f"{kind}{i}" for i in range(1, n + 1)
            for kind in ("title", "url")}


TEMPLATES: list[tuple[RobotMessage, str, dict[str, str]]] = [
    (SampleText(content="hi"), "sampleText", {"content": "hi"}),
    (SampleMarkdown(title="T", text="**x**"), "sampleMarkdown", {"title": "T", "text": "**x**"}),
    (SampleLink(text="t", title="T", pic_url="@lADO", message_url="https://m"), "sampleLink",
     {"text": "t", "title": "T", "picUrl": "@lADO", "messageUrl": "https://m"}),
    (SampleImageMsg(photo_url="https://p"), "sampleImageMsg", {"photoURL": "https://p"}),
    (SampleActionCard(title="t", text="x", single_title="Go", single_url="https://s"),
     "sampleActionCard",
     {"title": "t", "text": "x", "singleTitle": "Go", "singleURL": "https://s"}),
    *[(cls(title="t", text="x", **_buttons(n)), f"sampleActionCard{n}",
       {"title": "t", "text": "x", **{f"action{k}{i}": f"{k.lower()}{i}"
                                      for i in range(1, n + 1) for k in ("Title", "URL")}})
      for n, cls in ((2, SampleActionCard2), (3, SampleActionCard3), (4, SampleActionCard4),
                     (5, SampleActionCard5))],
    (SampleFile(media_id="@m", file_name="a.pdf", file_type="pdf"), "sampleFile",
     {"mediaId": "@m", "fileName": "a.pdf", "fileType": "pdf"}),
    (SampleAudio(media_id="@m", duration=3000), "sampleAudio",
     {"mediaId": "@m", "duration": "3000"}),
    (SampleVideo(duration=12, video_media_id="@v", video_type="mp4", pic_media_id="@p"),
     "sampleVideo", {"duration": "12", "videoMediaId": "@v", "videoType": "mp4",
                     "picMediaId": "@p"}),
]


def bodies(emu: Emulator, path: str) -> list[Any]:
    return [r.json for r in emu.requests if r.path == path]


@pytest.mark.parametrize(("message", "key", "param"), TEMPLATES,
                         ids=[key for _, key, _ in TEMPLATES])
async def test_send_every_template_exact_wire_body(
        emu: Emulator, message: RobotMessage, key: str, param: dict[str, str]) -> None:
    async with robot_client(emu) as client:
        result = await client.robot.send(message, userids=["u000001", "u000002", "u000001"])
    (body,) = bodies(emu, SEND)
    assert body == {"robotCode": emu.robot_code, "userIds": ["u000001", "u000002"],
                    "msgKey": key, "msgParam": json.dumps(param, separators=(",", ":"))}
    assert isinstance(result, RobotSendResult) and result.process_query_key
    for uid in ("u000001", "u000002"):
        (got,) = emu.robot_inbox(uid)
        assert (got.process_query_key, got.msg_key, got.msg_param) == \
            (result.process_query_key, key, param)
    (token,) = bodies(emu, TOKEN)
    assert token == {"appKey": emu.app.app_key, "appSecret": emu.app.app_secret}
    assert all("access_token" not in r.query for r in emu.requests)


async def test_send_reports_invalid_and_filtered(emu: Emulator) -> None:
    emu.robot.filtered_userids.add("u000003")
    async with robot_client(emu) as client:
        r = await client.robot.send(SampleText(content="hi"),
                                    userids=("ghost", "u000001", "u000003"))
    assert (r.invalid_userids, r.filtered_userids, r.throttled_userids) == \
        (["ghost"], ["u000003"], [])
    assert len(emu.robot_inbox("u000001")) == 1 and emu.robot_inbox("u000003") == []


async def test_send_validation_before_any_request(emu: Emulator) -> None:
    msg = SampleText(content="hi")
    async with robot_client(emu) as client:
        with pytest.raises(ValidationError, match="1-20 userids"):
            await client.robot.send(msg, userids=[f"u{i:06d}" for i in range(1, 22)])
        with pytest.raises(ValidationError):
            await client.robot.send(msg, userids="u000001")  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await client.robot.send(msg, userids=[])
        with pytest.raises(ValidationError):
            await client.robot.send({"content": "hi"}, userids=["u1"])  # type: ignore[arg-type]
        await client.robot.send(msg, userids=[f"u{i:06d}" for i in range(1, 21)] * 2)
    async with robot_client(emu, robot_code=None) as client:
        with pytest.raises(ValidationError, match="robot_code"):
            await client.robot.send(msg, userids=["u000001"])
        other = emu.add_robot(robot_code="dingotherrobot")
        await client.robot.send(msg, userids=["u000001"], robot_code=other)
    assert [b["robotCode"] for b in bodies(emu, SEND)] == [emu.robot_code, "dingotherrobot"]
    assert len(bodies(emu, SEND)[0]["userIds"]) == 20


async def test_send_to_group_exact_body_and_size_limit(emu: Emulator) -> None:
    async with robot_client(emu) as client:
        key = await client.robot.send_to_group(SampleMarkdown(title="T", text="**x**"),
                                               open_conversation_id="cidABC==")
        with pytest.raises(ValidationError, match="15000"):
            await client.robot.send_to_group(SampleText(content="x" * 15_000),
                                             open_conversation_id="cidABC==")
        with pytest.raises(ValidationError):
            await client.robot.send_to_group(SampleText(content="x"), open_conversation_id="")
        await client.robot.send_to_group(SampleText(content="é" * 7_000),
                                         open_conversation_id="cidABC==")
    first, _ = bodies(emu, GROUP)
    assert first == {"robotCode": emu.robot_code, "openConversationId": "cidABC==",
                     "msgKey": "sampleMarkdown", "msgParam": '{"title":"T","text":"**x**"}'}
    got = emu.robot_group_messages("cidABC==")
    assert [m.process_query_key for m in got][:1] == [key] and len(got) == 2


async def test_read_status_and_recall() -> None:
    clock = ManualClock()
    async with Emulator(clock=clock, read_ratio=1.0) as emu, \
            robot_client(emu, clock) as client:
        r = await client.robot.send(SampleText(content="hi"),
                                    userids=["u000001", "u000002", "ghost"])
        assert "+" in r.process_query_key  # the query must be URL-encoded
        status = await client.robot.read_status(r.process_query_key)
        assert (status.send_status, status.read_userids, status.unread_userids) == \
            ("SUCCESS", ["u000001", "u000002"], [])
        sent_ms = int(emu.robot.sends[r.process_query_key].created_at * 1000)
        assert status.read_timestamps == {"u000001": sent_ms, "u000002": sent_ms}
        (query,) = [q.query for q in emu.requests if q.path == STATUS]
        assert query == {"robotCode": emu.robot_code, "processQueryKey": r.process_query_key}
        outcome = await client.robot.recall([r.process_query_key])
        assert (outcome.recalled, outcome.failed) == ([r.process_query_key], {})
        assert all(m.recalled for m in emu.robot_inbox("u000001"))
        assert (await client.robot.read_status(r.process_query_key)).send_status == "RECALLED"
        again = await client.robot.recall([r.process_query_key, "nope"])
        assert again.recalled == [] and set(again.failed) == {r.process_query_key, "nope"}
        with pytest.raises(InvalidArgumentError) as caught:
            await client.robot.read_status("no-such-key")
        assert caught.value.sub_code == "InvalidParameter" and caught.value.errcode == 400
        assert caught.value.request_id and len(caught.value.request_id) == 36
    assert bodies(emu, RECALL)[0] == {"robotCode": emu.robot_code,
                                      "processQueryKeys": [r.process_query_key]}


async def test_recall_many_keys_in_calls_of_20(emu: Emulator) -> None:
    async with robot_client(emu) as client:
        keys = [(await client.robot.send(SampleText(content=f"m{i}"), userids=["u000001"]))
                .process_query_key for i in range(25)]
        outcome = await client.robot.recall(keys + keys[:3])
    assert outcome.recalled == keys and outcome.failed == {}
    assert [len(b["processQueryKeys"]) for b in bodies(emu, RECALL)] == [20, 5]


async def test_one_token_then_refresh_once_on_revocation() -> None:
    plan = FaultPlan(script={SEND: ["ok", "revoke_token"]})
    async with Emulator(faults=plan) as emu, robot_client(emu) as client:
        for _ in range(2):
            await client.robot.send(SampleText(content="hi"), userids=["u000001"])
        assert emu.count(TOKEN) == 2 and emu.count(SEND) == 3
        emu.revoke_tokens()
        await client.robot.read_status(
            (await client.robot.send(SampleText(content="x"), userids=["u000001"]))
            .process_query_key)
        assert emu.count(TOKEN) == 3
        assert emu.count("/gettoken") == 0  # the oapi token is a different one
    assert len(emu.robot_inbox("u000001")) == 3


async def test_token_expiry_refreshes_before_use() -> None:
    clock = ManualClock()
    async with Emulator(clock=clock) as emu, robot_client(emu, clock) as client:
        await client.robot.send(SampleText(content="a"), userids=["u000001"])
        clock.advance(7201)
        await client.robot.send(SampleText(content="b"), userids=["u000001"])
        assert emu.count(TOKEN) == 2 and emu.count(SEND) == 2


async def test_revoked_twice_is_a_token_error() -> None:
    plan = FaultPlan(script={SEND: ["revoke_token", "revoke_token"]})
    async with Emulator(faults=plan) as emu, robot_client(emu) as client:
        with pytest.raises(TokenError) as caught:
            await client.robot.send(SampleText(content="hi"), userids=["u000001"])
        assert caught.value.sub_code == "InvalidAuthentication"
        assert emu.count(TOKEN) == 2 and emu.count(SEND) == 2


async def test_wrong_secret_is_a_credentials_error(emu: Emulator) -> None:
    async with robot_client(emu, secret="wrong-secret-XYZ") as client:
        with pytest.raises(CredentialsError) as caught:
            await client.robot.send(SampleText(content="hi"), userids=["u000001"])
    assert caught.value.sub_code == "invalidClientIdOrSecret" and caught.value.request_id
    assert "wrong-secret-XYZ" not in str(caught.value)
    assert emu.count(TOKEN) == 1 and emu.count(SEND) == 0


async def test_server_errors_are_retried() -> None:
    plan = FaultPlan(rules=[Fault(path=SEND, kind="http_503", times=2)])
    async with Emulator(faults=plan) as emu, robot_client(emu, retry=FAST) as client:
        r = await client.robot.send(SampleText(content="hi"), userids=["u000001"])
    assert r.process_query_key and emu.count(SEND) == 3


async def test_a_dropped_answer_is_not_retried_the_send_may_have_arrived() -> None:
    """The robot API does not drop a repeat: after a dropped connection the send may have
    been taken, so it is not sent again (the error says it may have been sent)."""
    plan = FaultPlan(rules=[Fault(path=SEND, kind="http_503", times=1),
                            Fault(path=SEND, kind="drop", times=1)])
    async with Emulator(faults=plan) as emu, robot_client(emu, retry=FAST) as client:
        with pytest.raises(ConnectionFailedError) as caught:
            await client.robot.send(SampleText(content="hi"), userids=["u000001"])
    assert caught.value.maybe_sent and emu.count(SEND) == 2


def _account(report: RobotBroadcastReport) -> list[str]:
    lost = [u for b in report.batches if b.state in ("failed", "unknown") for u in b.userids]
    return (report.robot_sent_userids + report.robot_invalid_userids
            + report.robot_filtered_userids + report.robot_throttled_userids
            + report.robot_unconfirmed_userids + lost)


async def test_broadcast_12345_userids_exact_fanout() -> None:
    org = Org.synthetic(n_users=12_400)
    users = list(org.users)[:12_345]
    async with Emulator(org=org) as emu, robot_client(emu) as client:
        report = await client.robot.broadcast(
            SampleMarkdown(title="T", text="**x**"),
            userids=users + users[:700] + users[5000:5100], concurrency=16)
        sent = bodies(emu, SEND)
        assert len(sent) == 618 == -(-12_345 // 20)
        assert all(len(b["userIds"]) <= 20 for b in sent)
        assert sorted(u for b in sent for u in b["userIds"]) == sorted(users)
        assert [u for b in report.batches for u in b.userids] == users
        assert all(len(emu.robot_inbox(u)) == 1 for u in users)
        assert len(report.process_query_keys) == 618 == len(report.task_ids)
        assert report.task_ids == report.process_query_keys  # the robot's receipts
        assert report.complete and report.failed == report.unknown == []
        assert sorted(_account(report)) == sorted(users) and report.recipients == 12_345
        assert emu.count(TOKEN) == 1


async def test_broadcast_resends_flow_controlled_users() -> None:
    org = Org.synthetic(n_users=2_000)
    users = list(org.users)
    async with Emulator(org=org, robot_flow_control_ratio=0.1) as emu, \
            robot_client(emu) as client:
        report = await client.robot.broadcast(
            SampleText(content="hi"), userids=iter([*users, "ghost"]), resend_delay=0.01,
            resend_rounds=10)
        throttled_first = sum(len(r.throttled_userids) for i, r in report.robot_results.items()
                              if i < 101)
        assert throttled_first > 100
        assert report.robot_throttled_userids == [] and 1 <= report.resend_rounds <= 10
        assert all(len(emu.robot_inbox(u)) == 1 for u in users)
        assert report.robot_invalid_userids == ["ghost"]
        assert sorted(_account(report)) == sorted([*users, "ghost"])
        assert report.recipients == 2_001 and report.complete
        assert emu.count(SEND) == len(report.batches) == len(report.process_query_keys)
        assert all(len(b["userIds"]) <= 20 for b in bodies(emu, SEND))


async def test_broadcast_reports_users_still_throttled() -> None:
    org = Org.synthetic(n_users=400)
    users = list(org.users)
    async with Emulator(org=org, robot_flow_control_ratio=0.5) as emu, \
            robot_client(emu) as client:
        report = await client.robot.broadcast(SampleText(content="hi"), userids=users,
                                              resend_rounds=1, resend_delay=0)
        assert report.resend_rounds == 1 and report.robot_throttled_userids
        still = set(report.robot_throttled_userids)
        assert all(len(emu.robot_inbox(u)) == (u not in still) for u in users)
        assert sorted(_account(report)) == sorted(users)


async def test_rate_limit_storm_loses_nothing() -> None:
    org = Org.synthetic(n_users=2_000)
    users = list(org.users)
    async with Emulator(org=org, profile="professional") as emu, \
            robot_client(emu, retry=RetryPolicy(base_delay=0.05, max_delay=1.0)) as client:
        report = await client.robot.broadcast(SampleText(content="storm"), userids=users,
                                              concurrency=64)
        assert report.rate_limited > 0 and emu.robot.throttled
        assert report.complete and report.failed == report.unknown == []
        assert all(len(emu.robot_inbox(u)) == 1 for u in users)
        assert len(report.process_query_keys) == 100


async def test_governor_paces_robot_apis_with_their_own_keys() -> None:
    org = Org.synthetic(n_users=1_000)
    async with Emulator(org=org, profile="standard") as emu, \
            robot_client(emu, quota=Quota.standard()) as client:
        await client.work_notice.send(Text(content="x"), userids=["u000001"])
        report = await client.robot.broadcast(SampleText(content="x"), userids=list(org.users),
                                              concurrency=32)
        # Paced at 20 calls a second (arrival jitter may still draw the odd 403, retried).
        assert report.complete and report.failed == [] and report.elapsed > 2.0
        assert emu.count(SEND) == 50 + report.rate_limited
        governor = client._api.governor
        assert governor is not None and client.robot._caller.governor is governor
        assert SEND in governor._apis and "/topapi/message/corpconversation/asyncsend_v2" \
            in governor._apis


async def test_no_token_or_secret_in_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dingnotify")
    plan = FaultPlan(script={SEND: ["ok", "revoke_token", "http_503"]})
    async with Emulator(faults=plan) as emu, robot_client(emu, retry=FAST) as client:
        await client.robot.broadcast(SampleText(content="hi"), userids=["u000001", "u000002"])
        for _ in range(2):
            await client.robot.send(SampleText(content="x"), userids=["u000001"])
        with pytest.raises(InvalidArgumentError) as caught:
            await client.robot.read_status("nope")
    text = caplog.text + "".join(traceback.TracebackException.from_exception(
        caught.value, capture_locals=True).format())  # before this frame holds the tokens
    tokens = [r.response["accessToken"] for r in emu.requests if r.path == TOKEN]
    assert len(tokens) == 2
    assert "robot/oToMessages/batchSend" in caplog.text
    for secret in (*tokens, emu.app.app_secret):
        assert secret not in text
