"""A robot broadcast cut short (cancelled or past its deadline, during a resend delay or
mid-round) is never ``complete`` and still accounts for every recipient exactly once; a
403 ``QpsLimit`` storm stops the fan-out once the answers prove the budget is gone."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from dingnotify import (
    DingTalkClient,
    QuotaExhaustedError,
    RateLimitedError,
    RetryPolicy,
    Text,
    ValidationError,
)
from dingnotify.robot import RobotBroadcastReport, SampleText
from dingnotify.testing import MockRequest, MockResponse, MockTransport

API = "https://api.test"
TOKEN_PATH = "/v1.0/oauth2/accessToken"
SEND = "/v1.0/robot/oToMessages/batchSend"
HI = SampleText(content="hi")
USERS = [f"u{i:03d}" for i in range(100)] + ["ghost"]


def account(report: RobotBroadcastReport) -> list[str]:
    """Every bucket a recipient can end in, concatenated (each user must appear once)."""
    lost = [u for b in report.batches if b.state in ("failed", "unknown") for u in b.userids]
    return sorted(report.robot_sent_userids + report.robot_invalid_userids
                  + report.robot_filtered_userids + report.robot_throttled_userids + lost)


class Throttling:
    """The first round throttles every user but ``ghost`` (invalid); in a resend round
    the first ``answered`` calls are taken, then every call hangs until cancelled."""

    def __init__(self, answered: int = 1_000) -> None:
        self.answered = answered
        self.round_one = -(-len(USERS) // 20)
        self.transport = MockTransport(self.handle)

    def sends(self) -> list[list[str]]:
        return [r.json["userIds"] for r in self.transport.requests if r.url.path == SEND]

    async def handle(self, request: MockRequest) -> MockResponse:
        if request.url.path == TOKEN_PATH:
            return MockResponse(json={"accessToken": "tok", "expireIn": 7200})
        users = request.json["userIds"]
        n = len(self.sends())
        if n <= self.round_one:
            return MockResponse(json={
                "processQueryKey": f"k{n}",
                "invalidStaffIdList": [u for u in users if u == "ghost"],
                "flowControlledStaffIdList": [u for u in users if u != "ghost"]})
        if n - self.round_one > self.answered:
            await anyio.sleep_forever()
        return MockResponse(json={"processQueryKey": f"k{n}"})

    def client(self, **kw: Any) -> DingTalkClient:
        return DingTalkClient("key", "secret", api_base_url=API, transport=self.transport,
                              robot_code="r", quota=None, **kw)


async def test_cancelled_during_the_resend_delay_is_not_complete() -> None:
    server = Throttling()
    report = RobotBroadcastReport()
    async with server.client() as client:
        with anyio.move_on_after(1.0) as scope:
            await client.robot.broadcast(HI, userids=USERS, resend_delay=30, report=report,
                                         concurrency=2)
    assert scope.cancelled_caught and len(server.sends()) == server.round_one
    assert report.complete is False and report.cancelled and not report.timed_out
    assert report.resend_rounds == 0 and len(report.robot_throttled_userids) == 100
    assert account(report) == sorted(USERS)


async def test_deadline_during_the_resend_delay_is_not_complete() -> None:
    server = Throttling()
    async with server.client() as client:
        report = await client.robot.broadcast(HI, userids=USERS, resend_delay=30, timeout=5)
    assert len(server.sends()) == server.round_one and report.resend_rounds == 0
    assert report.complete is False and report.timed_out and not report.cancelled
    assert account(report) == sorted(USERS)


@pytest.mark.parametrize("answered", [0, 2])
async def test_cancelled_mid_round_is_not_complete_and_accounts_everyone(
        answered: int) -> None:
    server = Throttling(answered=answered)
    report = RobotBroadcastReport()
    async with server.client() as client:
        with anyio.move_on_after(1.0) as scope:
            await client.robot.broadcast(HI, userids=USERS, resend_delay=0, report=report,
                                         concurrency=1)
    assert scope.cancelled_caught and report.resend_rounds == 1
    assert len(server.sends()) == server.round_one + answered + 1
    assert report.complete is False and report.cancelled
    assert len(report.robot_sent_userids) == 20 * answered
    (hung,) = report.unknown  # in flight when cancelled: it may have been sent
    assert len(hung.userids) == 20
    assert len(report.robot_throttled_userids) == 100 - 20 * (answered + 1)
    assert report.recipients == len(USERS)
    assert account(report) == sorted(USERS)


@pytest.mark.parametrize("concurrency", [2, 3, 16])
async def test_cancelled_mid_round_at_any_concurrency_accounts_everyone(
        concurrency: int) -> None:
    server = Throttling(answered=1)
    report = RobotBroadcastReport()
    async with server.client() as client:
        with anyio.move_on_after(1.0) as scope:
            await client.robot.broadcast(HI, userids=iter(USERS), resend_delay=0,
                                         report=report, concurrency=concurrency)
    assert scope.cancelled_caught and report.resend_rounds == 1
    assert report.complete is False and report.cancelled and report.unknown
    assert len(report.robot_sent_userids) <= 20 and report.recipients == len(USERS)
    assert account(report) == sorted(USERS)


async def test_deadline_mid_round_is_not_complete_and_accounts_everyone() -> None:
    server = Throttling(answered=1)
    started = time.monotonic()
    async with server.client() as client:
        report = await client.robot.broadcast(HI, userids=USERS, resend_delay=0, timeout=0.5,
                                              concurrency=1)
    assert time.monotonic() - started < 3
    assert report.complete is False and report.timed_out and not report.cancelled
    assert len(report.robot_sent_userids) == 20 and len(report.unknown) == 1
    assert account(report) == sorted(USERS)


async def test_resent_says_when_the_deadline_cut_the_rounds() -> None:
    from dingnotify.broadcast import resend_throttled

    async def hold(userids: list[str], timeout: float | None) -> list[str]:
        return userids

    cut = await resend_throttled(["a"], hold, rounds=3, delay=10,
                                 deadline=time.monotonic() + 5)
    assert (cut.rounds, cut.throttled, cut.timed_out) == (0, ["a"], True)
    done = await resend_throttled(["a"], hold, rounds=2, delay=0)
    assert (done.rounds, done.timed_out) == (2, False)


# -- a 403 QpsLimit storm -------------------------------------------------------------------

QPS = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
ZERO = RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0, rate_limit_attempts=3,
                   jitter=False)
MANY = [f"m{i:03d}" for i in range(400)]


class Storm:
    """``batchSend`` answers 403 ``QpsLimit`` when ``throttle(n)`` says so for its n-th
    call (from 1), otherwise takes the batch."""

    def __init__(self, throttle: Any, code: str = QPS) -> None:
        self.throttle, self.code = throttle, code
        self.transport = MockTransport(self.handle)

    def sends(self) -> int:
        return sum(r.url.path == SEND for r in self.transport.requests)

    def handle(self, request: MockRequest) -> MockResponse:
        if request.url.path == TOKEN_PATH:
            return MockResponse(json={"accessToken": "tok", "expireIn": 7200})
        if self.throttle(self.sends()):
            return MockResponse(403, json={"code": self.code, "message": "qps",
                                           "requestid": "R"})
        return MockResponse(json={"processQueryKey": f"k{self.sends()}"})

    def client(self, retry: RetryPolicy = ZERO) -> DingTalkClient:
        return DingTalkClient("key", "secret", api_base_url=API, transport=self.transport,
                              robot_code="r", quota=None, retry=retry)


@pytest.mark.parametrize("code", [QPS, "Forbidden.AccessDenied.QpsLimitForApi"])
@pytest.mark.parametrize("concurrency", [1, 4, 16])
async def test_a_qps_limit_storm_stops_the_broadcast(code: str, concurrency: int) -> None:
    users = [f"s{i:04d}" for i in range(2_000)]  # 100 batches: 300 requests without a stop
    server = Storm(lambda n: True, code)
    started = time.monotonic()
    async with server.client() as client:
        report = await client.robot.broadcast(HI, userids=users, concurrency=concurrency)
    # A wave of max(2, concurrency) batches spends its retries, then the batches still in
    # flight give up at their next 403: the bound does not grow with the broadcast.
    bound = (max(2, concurrency) + concurrency) * ZERO.rate_limit_attempts
    assert server.sends() <= bound < 100 * 3
    assert time.monotonic() - started < 5
    assert isinstance(report.stopped_by, RateLimitedError)
    assert not isinstance(report.stopped_by, QuotaExhaustedError)
    assert report.complete is False and not report.cancelled and not report.timed_out
    assert len(report.batches) == 100 and len(report.failed) == 100 and not report.unknown
    assert all(isinstance(b.error, RateLimitedError) for b in report.failed)
    assert report.resend_rounds == 0 and report.recipients == 2_000
    assert account(report) == sorted(users)


async def test_the_storm_threshold_is_configurable() -> None:
    server = Storm(lambda n: True)
    async with server.client() as client:
        report = await client.robot.broadcast(HI, userids=MANY, concurrency=1,
                                              rate_limit_stop=5)
    assert server.sends() == 5 * 3 and report.stopped_by is not None
    assert len(report.failed) == 20
    with pytest.raises(ValidationError):
        async with server.client() as client:
            await client.robot.broadcast(HI, userids=MANY, rate_limit_stop=0)


async def test_a_transient_throttle_does_not_stop_the_broadcast() -> None:
    server = Storm(lambda n: n <= 40)  # 40 answers of 403, then DingTalk takes them
    async with server.client() as client:
        report = await client.robot.broadcast(HI, userids=MANY, concurrency=16)
    assert report.stopped_by is None and report.complete
    assert report.rate_limited > 0


async def test_batches_failing_throttled_between_acknowledged_ones_do_not_stop_it() -> None:
    # Every other batch spends all its retries on 403s; the others are taken at once.
    server = Storm(lambda n: (n - 1) % 4 < 3)
    async with server.client() as client:
        report = await client.robot.broadcast(HI, userids=MANY, concurrency=1)
    assert report.stopped_by is None and report.complete
    assert len(report.failed) == 10 and len(report.acknowledged) == 10
    assert account(report) == sorted(MANY)


async def test_a_work_notice_storm_stops_too() -> None:
    calls: list[str] = []

    def handle(request: MockRequest) -> MockResponse:
        if request.url.path == "/gettoken":
            return MockResponse(json={"errcode": 0, "access_token": "t", "expires_in": 7200})
        calls.append(request.url.path)
        return MockResponse(json={"errcode": 90018, "errmsg": "qps"})

    async with DingTalkClient("key", "secret", agent_id=1, base_url="https://oapi.test",
                              transport=MockTransport(handle), quota=None,
                              retry=ZERO) as client:
        report = await client.work_notice.broadcast(Text(content="x"), userids=MANY,
                                                    concurrency=2)
    assert isinstance(report.stopped_by, RateLimitedError) and not report.complete
    assert len(calls) <= 4 * 3 and report.failed == report.batches


def test_the_cli_says_why_a_broadcast_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    from dingnotify.broadcast import Batch, BroadcastReport
    from dingnotify.cli._display import Output
    from dingnotify.cli._fanout import notice_problems

    storm = RateLimitedError(403, "qps", sub_code=QPS)
    report = BroadcastReport[str](stopped_by=storm)
    report.batches.append(Batch(0, ("u1",), (), error=storm))
    notice_problems(report, Output())
    first, second = capsys.readouterr().err.splitlines()
    assert first.startswith("stopped early, the rest not sent: RateLimitedError")
    assert second.startswith("failed batch 0: RateLimitedError")


async def test_the_issue_storm_is_stopped_within_a_few_answers_per_worker() -> None:
    """400 users at concurrency 16 with the default 12 rate-limit attempts a call: before,
    every batch spent its whole budget (240 requests); three 403s per worker in a row,
    none acknowledged, now prove the storm."""
    server = Storm(lambda n: True)
    policy = RetryPolicy(base_delay=0.0, max_delay=0.0, jitter=False)
    assert policy.rate_limit_attempts == 12
    async with server.client(retry=policy) as client:
        report = await client.robot.broadcast(HI, userids=MANY, concurrency=16)
    assert server.sends() <= 3 * 16 + 16
    assert isinstance(report.stopped_by, RateLimitedError) and report.complete is False
    assert len(report.failed) == 20 and account(report) == sorted(MANY)
