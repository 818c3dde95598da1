"""The robot's answers checked, and its sends never repeated after an ambiguous failure.

The robot API does not drop a repeat: a ``batchSend`` that timed out after DingTalk took it
and is sent again messages its users twice. Work notifications are the opposite case
(DingTalk drops a same-content repeat), so their sends are still retried.
"""

from __future__ import annotations

from typing import Any

import pytest

from dingnotify import DingTalkClient, RequestTimeoutError, RetryPolicy, Text
from dingnotify.robot import NO_ANSWER, SampleText
from dingnotify.testing import MockRequest, MockResponse, MockTransport

BASE = "https://oapi.test"
API = "https://api.test"
SEND = "/v1.0/robot/oToMessages/batchSend"
GROUP = "/v1.0/robot/groupMessages/send"
RECALL = "/v1.0/robot/otoMessages/batchRecall"
ASYNCSEND = "/topapi/message/corpconversation/asyncsend_v2"
FAST = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0, jitter=False)
HI = SampleText(content="hi")


class Server:
    """Answers tokens; the first ``timeouts`` calls of ``path`` time out after being
    written (DingTalk may have taken them); then ``answer(request)``."""

    def __init__(self, path: str, timeouts: int = 0, answer: Any = None) -> None:
        self.path, self.timeouts, self.answer = path, timeouts, answer
        self.transport = MockTransport(self.handle)

    def handle(self, request: MockRequest) -> MockResponse:
        path = request.url.path
        if path == "/v1.0/oauth2/accessToken":
            return MockResponse(json={"accessToken": "tok-robot", "expireIn": 7200})
        if path == "/gettoken":
            return MockResponse(json={"errcode": 0, "access_token": "tok", "expires_in": 7200})
        if path == self.path and self.timeouts:
            self.timeouts -= 1
            raise TimeoutError
        if self.answer is not None:
            return MockResponse(json=self.answer(request))
        if path == ASYNCSEND:
            return MockResponse(json={"errcode": 0, "task_id": 7})
        return MockResponse(json={"processQueryKey": f"k{len(self.calls(path))}"})

    def calls(self, path: str) -> list[MockRequest]:
        return [r for r in self.transport.requests if r.url.path == path]

    def client(self) -> DingTalkClient:
        return DingTalkClient("key", "secret", agent_id=1, robot_code="dingrobot",
                              base_url=BASE, api_base_url=API, transport=self.transport,
                              retry=FAST, quota=None)


async def test_a_robot_send_that_may_have_arrived_is_not_sent_again() -> None:
    server = Server(SEND, timeouts=1)
    async with server.client() as client:
        with pytest.raises(RequestTimeoutError) as caught:
            await client.robot.send(HI, userids=["u1", "u2"])
    assert caught.value.maybe_sent
    assert len(server.calls(SEND)) == 1


async def test_a_group_message_that_may_have_arrived_is_not_sent_again() -> None:
    server = Server(GROUP, timeouts=1)
    async with server.client() as client:
        with pytest.raises(RequestTimeoutError):
            await client.robot.send_to_group(HI, open_conversation_id="cid1")
    assert len(server.calls(GROUP)) == 1


async def test_a_work_notice_send_is_retried_dingtalk_drops_the_repeat() -> None:
    server = Server(ASYNCSEND, timeouts=1)
    async with server.client() as client:
        assert await client.work_notice.send(Text(content="hi"), userids=["u1"]) == 7
    assert len(server.calls(ASYNCSEND)) == 2


async def test_a_robot_broadcast_leaves_an_ambiguous_batch_unknown_and_unrepeated() -> None:
    server = Server(SEND, timeouts=1)
    users = [f"u{i}" for i in range(60)]
    async with server.client() as client:
        report = await client.robot.broadcast(HI, userids=users, concurrency=1,
                                              resend_rounds=0)
    assert len(server.calls(SEND)) == 3  # three batches of 20, none sent twice
    assert [b.state for b in report.batches] == ["unknown", "acknowledged", "acknowledged"]
    assert report.robot_sent_userids == users[20:]


async def test_answer_lists_are_kept_to_the_batch_and_each_user_to_one_list() -> None:
    def answer(request: MockRequest) -> dict[str, Any]:
        return {"processQueryKey": "k", "invalidStaffIdList": ["u1", "outsider"],
                "flowControlledStaffIdList": ["u1", "u2", "u2", "stranger"],
                "filteredStaffIdList": ["u2", "u3"]}

    server = Server(SEND, answer=answer)
    async with server.client() as client:
        result = await client.robot.send(HI, userids=["u1", "u2", "u3", "u4"])
    assert result.invalid_userids == ["u1"]
    assert result.throttled_userids == ["u2"]
    assert result.filtered_userids == ["u3"]


async def test_a_throttled_outsider_is_never_messaged_in_a_resend_round() -> None:
    def answer(request: MockRequest) -> dict[str, Any]:
        first = len(server.calls(SEND)) == 1
        return {"processQueryKey": "k", "flowControlledStaffIdList":
                ["u1", "outsider"] if first else []}

    server = Server(SEND, answer=answer)
    async with server.client() as client:
        report = await client.robot.broadcast(HI, userids=["u1", "u2"], resend_rounds=1,
                                              resend_delay=0)
    sent = [r.json["userIds"] for r in server.calls(SEND)]
    assert sent == [["u1", "u2"], ["u1"]]
    assert sorted(report.robot_sent_userids) == ["u1", "u2"]


async def test_a_recall_key_the_answer_leaves_out_is_failed() -> None:
    def answer(request: MockRequest) -> dict[str, Any]:
        return {"successResult": ["k1", "not-asked"], "failedResult": {"k2": "gone"}}

    server = Server(RECALL, answer=answer)
    async with server.client() as client:
        result = await client.robot.recall(["k1", "k2", "k3"])
    assert result.recalled == ["k1"]
    assert result.failed == {"k2": "gone", "k3": NO_ANSWER}
