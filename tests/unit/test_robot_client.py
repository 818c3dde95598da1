"""``client.robot`` with a mocked transport: error mapping, token header, secrets."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from dingnotify import (
    ClientClosedError,
    CredentialsError,
    DingNotifyError,
    DingTalkClient,
    DingTalkError,
    HTTPStatusError,
    InvalidArgumentError,
    MemoryTokenStore,
    NotFoundError,
    PermissionDeniedError,
    QuotaExhaustedError,
    RateLimitedError,
    RedirectError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    TokenError,
    ValidationError,
)
from dingnotify.robot import Robot, RobotBroadcastReport, SampleText
from dingnotify.testing import MockRequest, MockResponse, MockTransport

API = "https://api.test"
KEY = "robot-app-key"
SECRET = "robot-app-secret-S3CR3T"
TOKEN_A = "tokA0123456789abcdef0123456789ab"
TOKEN_B = "tokB0123456789abcdef0123456789ab"
TOKEN_PATH = "/v1.0/oauth2/accessToken"
SEND = "/v1.0/robot/oToMessages/batchSend"
STATUS = "/v1.0/robot/oToMessages/readStatus"
FAST = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, rate_limit_attempts=3,
                   jitter=False)
SENT = {"processQueryKey": "k+1/=", "invalidStaffIdList": [], "flowControlledStaffIdList": []}
HI = SampleText(content="hi")


def error(status: int, code: str | None, message: str = "m") -> MockResponse:
    body: dict[str, Any] = {"message": message, "requestid": "REQ-1"}
    if code is not None:
        body["code"] = code
    return MockResponse(status, json=body)


class Server:
    """Tokens A then B; API answers popped from ``answers`` (then success)."""

    def __init__(self, *answers: MockResponse) -> None:
        self.answers = list(answers)
        self.tokens = [TOKEN_A, TOKEN_B]
        self.transport = MockTransport(self.handle)

    def handle(self, request: MockRequest) -> MockResponse:
        if request.url.path == TOKEN_PATH:
            return MockResponse(json={"accessToken": self.tokens.pop(0), "expireIn": 7200})
        if self.answers:
            return self.answers.pop(0)
        return MockResponse(json=SENT)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.transport.requests]

    def client(self, **kw: Any) -> DingTalkClient:
        options: dict[str, Any] = {"retry": FAST, "quota": None, "robot_code": "dingrobot",
                                   **kw}
        return DingTalkClient(KEY, SECRET, api_base_url=API, transport=self.transport,
                              **options)


async def test_token_in_header_never_in_url() -> None:
    server = Server()
    async with server.client() as client:
        r = await client.robot.send(HI, userids=["u1"])
        await client.robot.read_status(r.process_query_key)
    token_request, send, status = server.transport.requests
    assert (token_request.method, str(token_request.url)) == ("POST", API + TOKEN_PATH)
    assert token_request.json == {"appKey": KEY, "appSecret": SECRET}
    assert "x-acs-dingtalk-access-token" not in token_request.headers
    for request in (send, status):
        assert request.headers["x-acs-dingtalk-access-token"] == TOKEN_A
        assert TOKEN_A not in str(request.url) and "access_token" not in request.url.query
    assert send.content == (b'{"robotCode":"dingrobot","userIds":["u1"],"msgKey":"sampleText",'
                            b'"msgParam":"{\\"content\\":\\"hi\\"}"}')
    assert "application/json" in send.headers["Content-Type"]
    assert status.method == "GET" and dict(status.url.query) == {
        "robotCode": "dingrobot", "processQueryKey": "k+1/="}
    assert "k%2B1/%3D" in str(status.url)


@pytest.mark.parametrize(("status", "code", "cls"), [
    (400, "InvalidAuthentication", TokenError),
    (401, "Unauthorized", TokenError),
    (400, "invalidClientIdOrSecret", CredentialsError),
    (403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", RateLimitedError),
    (403, "Forbidden.AccessDenied.QpsLimitForApi", RateLimitedError),
    (429, None, RateLimitedError),
    (403, "Forbidden.AccessDenied.ApiCountLimitForOrg", QuotaExhaustedError),
    (400, "ApiCountLimitForOrg", QuotaExhaustedError),
    (400, "InvalidParameter", InvalidArgumentError),
    (400, "MissingrobotCode", InvalidArgumentError),
    (403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", PermissionDeniedError),
    (404, "NotFound", NotFoundError),
    (409, "Conflict", DingTalkError),
    (500, "InternalError", ServerError),
    (503, None, ServerError),
    (302, None, RedirectError),
])
async def test_error_mapping(status: int, code: str | None, cls: type[Exception]) -> None:
    server = Server(*[error(status, code)] * 8)
    async with server.client() as client:
        with pytest.raises(cls) as caught:
            await client.robot.send(HI, userids=["u1"])
    exc = caught.value
    assert type(exc) is cls
    if isinstance(exc, DingTalkError):
        assert (exc.errcode, exc.sub_code, exc.errmsg, exc.request_id, exc.path) == \
            (status, code, "m", "REQ-1", SEND)
    else:
        assert isinstance(exc, HTTPStatusError) and exc.status == status
        assert "REQ-1" in str(exc)
    sends = server.paths().count(SEND)
    assert sends == (3 if getattr(exc, "retryable", False) else 2 if cls is TokenError else 1)
    assert server.paths().count(TOKEN_PATH) == (2 if cls is TokenError else 1)


async def test_non_json_error_body_is_typed_by_status() -> None:
    server = Server(MockResponse(400, content=b"<html>bad</html>"))
    async with server.client() as client:
        with pytest.raises(InvalidArgumentError) as caught:
            await client.robot.send(HI, userids=["u1"])
    assert caught.value.sub_code is None and caught.value.errmsg == "HTTP 400"


async def test_token_error_refreshes_once_then_succeeds() -> None:
    server = Server(error(400, "InvalidAuthentication"))
    async with server.client() as client:
        assert (await client.robot.send(HI, userids=["u1"])).process_query_key == "k+1/="
    tokens = [r.headers.get("x-acs-dingtalk-access-token") for r in server.transport.requests]
    assert tokens == [None, TOKEN_A, None, TOKEN_B]


async def test_rate_limit_answers_are_retried_and_pause_the_api() -> None:
    server = Server(error(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"))
    async with server.client(quota=None) as client:
        await client.robot.send(HI, userids=["u1"])
    assert server.paths().count(SEND) == 2


async def test_wrong_secret_on_token_call() -> None:
    transport = MockTransport(lambda r: error(400, "invalidClientIdOrSecret",
                                              f"bad secret {SECRET}"))
    async with DingTalkClient(KEY, SECRET, api_base_url=API, transport=transport,
                              robot_code="r", quota=None) as client:
        with pytest.raises(CredentialsError) as caught:
            await client.robot.send(HI, userids=["u1"])
    assert SECRET not in exposed(caught.value) and caught.value.path == TOKEN_PATH
    assert len(transport.requests) == 1


async def test_malformed_answers() -> None:
    for answer in (MockResponse(json={"invalidStaffIdList": []}),
                   MockResponse(content=b"not json"),
                   MockResponse(json={"processQueryKey": 5})):
        server = Server(answer)
        async with server.client() as client:
            with pytest.raises(ResponseDecodeError):
                await client.robot.send(HI, userids=["u1"])
    transport = MockTransport(lambda r: MockResponse(json={"expireIn": 7200}))
    async with DingTalkClient(KEY, SECRET, api_base_url=API, transport=transport,
                              robot_code="r") as client:
        with pytest.raises(ResponseDecodeError, match="accessToken"):
            await client.robot.send(HI, userids=["u1"])


def exposed(exc: BaseException) -> str:
    parts = ["".join(traceback.TracebackException.from_exception(
        exc, capture_locals=True).format())]
    link: BaseException | None = exc
    while link is not None:
        parts += [str(link), repr(link), repr(link.args)]
        link = link.__cause__ or link.__context__
    return "\n".join(parts)


@pytest.mark.parametrize("answers", [
    [error(400, "InvalidAuthentication", f"token {TOKEN_A} is bad")] * 2,
    [error(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", f"{TOKEN_A} {SECRET}")] * 3,
    [error(500, "InternalError", TOKEN_A)] * 3,
    [error(400, "InvalidParameter", f"echo {SECRET} {TOKEN_A}")],
    [MockResponse(content=b'{"processQueryKey": ')],
])
async def test_no_secret_in_tracebacks_or_logs(
        answers: list[MockResponse], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dingnotify")
    server = Server(*answers)
    async with server.client() as client:
        with pytest.raises(DingNotifyError) as caught:
            await client.robot.send(HI, userids=["u1"])
    text = exposed(caught.value) + caplog.text
    for secret in (SECRET, TOKEN_A, TOKEN_B):
        assert secret not in text
    assert "token = Secret('***')" in text  # frame locals were captured, tokens masked


async def test_secret_not_in_token_failure_traceback() -> None:
    async def handler(request: MockRequest) -> MockResponse:
        raise ConnectionResetError(SECRET)

    transport = MockTransport(handler)
    async with DingTalkClient(KEY, SECRET, api_base_url=API, transport=transport,
                              robot_code="r", retry=FAST) as client:
        with pytest.raises(DingNotifyError) as caught:
            await client.robot.send(HI, userids=["u1"])
    assert SECRET not in exposed(caught.value)


Call = Callable[[Robot], Any]


@pytest.mark.parametrize("call", [
    lambda r: r.send(HI, userids=[f"u{i}" for i in range(21)]),
    lambda r: r.send(HI, userids="u1"),
    lambda r: r.send(HI, userids=[]),
    lambda r: r.send(HI, userids=["bad,id"]),
    lambda r: r.send("hi", userids=["u1"]),
    lambda r: r.send(HI, userids=["u1"], robot_code=""),
    lambda r: r.send_to_group(HI, open_conversation_id=" "),
    lambda r: r.send_to_group(SampleText(content="x" * 15_001), open_conversation_id="c"),
    lambda r: r.read_status(""),
    lambda r: r.recall([]),
    lambda r: r.recall("key"),
    lambda r: r.broadcast(HI, userids=[]),
    lambda r: r.broadcast(HI, userids="u1"),
    lambda r: r.broadcast(HI, userids=["u1"], resend_rounds=-1),
    lambda r: r.broadcast(HI, userids=["u1"], resend_delay=float("inf")),
])
async def test_validation_sends_nothing(call: Call) -> None:
    server = Server()
    async with server.client() as client:
        with pytest.raises(ValidationError):
            await call(client.robot)
    assert server.transport.requests == []


async def test_robot_code_required_and_per_call() -> None:
    server = Server()
    async with server.client(robot_code=None) as client:
        with pytest.raises(ValidationError, match="robot_code"):
            await client.robot.send(HI, userids=["u1"])
        await client.robot.send(HI, userids=["u1"], robot_code="dingother")
    assert server.transport.requests[-1].json["robotCode"] == "dingother"
    with pytest.raises(ValidationError):
        DingTalkClient(KEY, SECRET, robot_code="")
    with pytest.raises(ValidationError):
        DingTalkClient(KEY, SECRET, api_base_url="ftp://x")


async def test_closed_client_refuses_robot_calls() -> None:
    server = Server()
    client = server.client()
    async with client:
        pass
    with pytest.raises(ClientClosedError):
        await client.robot.send(HI, userids=["u1"])
    assert server.transport.requests == []


async def test_robot_token_has_its_own_store_key() -> None:
    store = MemoryTokenStore()
    server = Server()
    async with server.client(token_store=store) as client:
        await client.robot.send(HI, userids=["u1"])
    assert await store.get(f"dingtalk-api:{KEY}") == TOKEN_A
    assert await store.get(f"dingtalk:{KEY}") is None
    assert TOKEN_A not in repr(client) and TOKEN_A not in repr(client.robot._caller.tokens)


def throttling(*, fail_resends: bool = False) -> MockTransport:
    """Every batchSend throttles its last user and reports ``ghost`` invalid; with
    ``fail_resends`` every call after the first round answers 400."""
    calls: list[int] = []

    def handle(request: MockRequest) -> MockResponse:
        if request.url.path == TOKEN_PATH:
            return MockResponse(json={"accessToken": TOKEN_A, "expireIn": 7200})
        users = request.json["userIds"]
        calls.append(len(users))
        if fail_resends and len(calls) > 3:
            return error(400, "InvalidParameter")
        return MockResponse(json={
            "processQueryKey": f"k{len(calls)}",
            "invalidStaffIdList": [u for u in users if u == "ghost"],
            "flowControlledStaffIdList": [u for u in users if u != "ghost"][-1:]})

    return MockTransport(handle)


def account(report: RobotBroadcastReport) -> list[str]:
    lost = [u for b in report.batches if b.state in ("failed", "unknown") for u in b.userids]
    return sorted(report.robot_sent_userids + report.robot_invalid_userids
                  + report.robot_filtered_userids + report.robot_throttled_userids
                  + report.robot_unconfirmed_userids + lost)


USERS = [f"u{i:02d}" for i in range(50)] + ["ghost"]


async def test_broadcast_resend_rounds_are_bounded_and_accounted() -> None:
    transport = throttling()
    async with DingTalkClient(KEY, SECRET, api_base_url=API, transport=transport,
                              robot_code="r", quota=None) as client:
        report = await client.robot.broadcast(HI, userids=USERS, resend_rounds=2,
                                              resend_delay=0, concurrency=1)
    sends = [r.json["userIds"] for r in transport.requests if r.url.path == SEND]
    assert [len(s) for s in sends] == [20, 20, 11, 3, 1]  # 3 throttled, then 1, then 1
    assert report.resend_rounds == 2 and report.complete
    assert report.process_query_keys == [f"k{i}" for i in range(1, 6)]
    assert [b.index for b in report.batches] == list(range(5))
    assert report.robot_throttled_userids == [sends[-1][0]]
    assert report.robot_invalid_userids == ["ghost"] and report.recipients == 51
    assert account(report) == sorted(USERS)


async def test_broadcast_failed_resend_is_accounted_once() -> None:
    transport = throttling(fail_resends=True)
    async with DingTalkClient(KEY, SECRET, api_base_url=API, transport=transport,
                              robot_code="r", quota=None) as client:
        report = await client.robot.broadcast(HI, userids=iter(USERS), resend_delay=0)
    (failed,) = report.failed
    assert len(failed.userids) == 3 and report.robot_throttled_userids == []
    assert isinstance(failed.error, InvalidArgumentError)
    assert account(report) == sorted(USERS)


async def test_broadcast_deadline_leaves_no_time_to_resend() -> None:
    transport = throttling()
    async with DingTalkClient(KEY, SECRET, api_base_url=API, transport=transport,
                              robot_code="r", quota=None) as client:
        report = await client.robot.broadcast(HI, userids=USERS, resend_delay=5, timeout=2)
    assert report.resend_rounds == 0 and len(report.robot_throttled_userids) == 3
    assert account(report) == sorted(USERS)


async def test_broadcast_resumes_acknowledged_batches() -> None:
    transport = throttling()
    async with DingTalkClient(KEY, SECRET, api_base_url=API, transport=transport,
                              robot_code="r", quota=None) as client:
        report = await client.robot.broadcast(HI, userids=USERS, resend_rounds=0,
                                              acknowledged={0: "old"})
    assert report.process_query_keys == ["old", "k1", "k2"]
    assert account(report) == sorted(USERS)
