"""Single-flight token refresh, refresh-once on token errors, and retry bounds."""

from __future__ import annotations

import asyncio

import anyio
import pytest

import dingnotify
from dingnotify import RetryPolicy, Text
from dingnotify.testing import MockRequest, MockResponse
from tests.conftest import (
    GETTOKEN,
    SEND,
    Scripted,
    client_with,
    err,
    ok,
    token_answer,
    tokens_of,
)

OK = ok(task_id=1)


def fast(attempts: int = 4, rate_limit_attempts: int = 12) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, base_delay=0.001, max_delay=0.01, jitter=False,
                       rate_limit_attempts=rate_limit_attempts)


async def send_one(c: dingnotify.DingTalkClient, content: str = "x") -> int:
    return await c.work_notice.send(Text(content=content), userids=["u"])


async def test_200_concurrent_sends_on_cold_client_fetch_one_token(wire: Scripted) -> None:
    wire.route(SEND, OK)
    async with client_with(wire, agent_id=1) as c:
        ids = await asyncio.gather(*(send_one(c, f"m{i}") for i in range(200)))
    assert ids == [1] * 200
    assert len(wire.sent(GETTOKEN)) == 1
    assert len(wire.sent(SEND)) == 200


async def test_token_error_refreshes_once_and_retries_once(wire: Scripted) -> None:
    def by_token(request: MockRequest) -> MockResponse:
        if request.url.query["access_token"] == "old":
            return err(88, sub_code="40014", sub_msg="bad")
        return OK

    wire.route(GETTOKEN, token_answer("old"), token_answer("new"))
    wire.route(SEND, by_token)
    async with client_with(wire, agent_id=1) as c:
        assert await send_one(c) == 1
        assert c.token_refreshes == 2
    assert tokens_of(wire.sent(SEND)) == ["old", "new"]


async def test_second_token_error_raises(wire: Scripted) -> None:
    wire.route(SEND, err(40014, "不合法的access_token"))
    async with client_with(wire, agent_id=1) as c:
        with pytest.raises(dingnotify.TokenError):
            await send_one(c)
    assert len(wire.sent(GETTOKEN)) == 2
    assert len(wire.sent(SEND)) == 2


async def test_token_refreshed_before_expiry_by_clock(wire: Scripted) -> None:
    now = [1000.0]
    wire.route(GETTOKEN, token_answer("t1"), token_answer("t2"))
    wire.route(SEND, OK)
    async with client_with(wire, agent_id=1, clock=lambda: now[0]) as c:
        await send_one(c, "a")
        now[0] += 7200 - 300 - 1  # still inside the margin
        await send_one(c, "b")
        now[0] += 2  # crosses expiry minus the 5-minute margin
        await send_one(c, "c")
    assert tokens_of(wire.sent(SEND)) == ["t1", "t1", "t2"]


async def test_missing_expires_in_falls_back_to_7200(wire: Scripted) -> None:
    now = [0.0]
    wire.route(GETTOKEN, ok(access_token="t", expires_in=0))
    wire.route(SEND, OK)
    async with client_with(wire, agent_id=1, clock=lambda: now[0]) as c:
        await send_one(c, "a")
        now[0] = 6800.0
        await send_one(c, "b")
        now[0] = 6901.0
        await send_one(c, "c")
        assert c.token_refreshes == 2


def test_rate_limit_waits_at_least_one_second() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=8.0, jitter=False)
    qps = dingnotify.RateLimitedError(90018, "qps")
    assert [policy.delay(n, qps) for n in (1, 2, 3, 5)] == [1.0, 1.0, 2.0, 8.0]
    # QPS windows are 1 s: never wait less than that, unless max_delay says so.
    assert RetryPolicy(max_delay=0.25, jitter=False).delay(1, qps) == 0.25


async def test_rate_limit_retried_on_its_own_budget_then_raised(wire: Scripted) -> None:
    wire.route(SEND, err(90018, "qps"))
    async with client_with(wire, agent_id=1, retry=fast(2, rate_limit_attempts=5)) as c:
        with pytest.raises(dingnotify.RateLimitedError) as info:
            await send_one(c)
    assert info.value.errcode == 90018 and info.value.retryable
    assert len(wire.sent(SEND)) == 5  # rate_limit_attempts, not max_attempts
    assert len(wire.sent(GETTOKEN)) == 1


async def test_rate_limit_then_success(client: dingnotify.DingTalkClient, wire: Scripted) -> None:
    wire.route(SEND, err(88, sub_code="90018"), MockResponse(503), err(-1, "busy"), OK)
    assert await send_one(client) == 1
    assert len(wire.sent(SEND)) == 4


@pytest.mark.parametrize("errcode", [40096, 40089])
async def test_bad_credentials_never_retried(wire: Scripted, errcode: int) -> None:
    wire.route(GETTOKEN, err(errcode, "bad"))
    async with client_with(wire, agent_id=1) as c:
        with pytest.raises(dingnotify.CredentialsError):
            await send_one(c)
    assert wire.paths() == [GETTOKEN]


async def test_invalid_argument_never_retried(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(SEND, err(40035, "缺少参数"))
    with pytest.raises(dingnotify.InvalidArgumentError):
        await send_one(client)
    assert len(wire.sent(SEND)) == 1


async def test_http_errors_and_bad_bodies_are_transport_errors(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(SEND, MockResponse(502))
    with pytest.raises(dingnotify.HTTPStatusError) as info:
        await send_one(client)
    assert info.value.status == 502 and not isinstance(info.value, dingnotify.DingTalkError)
    assert isinstance(info.value, dingnotify.ServerError)
    assert len(wire.sent(SEND)) == 4


@pytest.mark.parametrize("status", [400, 403, 404])
async def test_4xx_is_not_retried(client: dingnotify.DingTalkClient, wire: Scripted,
                                  status: int) -> None:
    wire.route(SEND, MockResponse(status))
    with pytest.raises(dingnotify.HTTPStatusError) as info:
        await send_one(client)
    assert info.value.status == status and not info.value.retryable
    assert len(wire.sent(SEND)) == 1


async def test_429_is_retried_honouring_retry_after(wire: Scripted) -> None:
    wire.route(SEND, MockResponse(429, headers={"Retry-After": "0.05"}), OK)
    async with client_with(wire, retry=RetryPolicy(base_delay=0.001, max_delay=1.0,
                                                   jitter=False)) as c:
        started = anyio.current_time()
        assert await send_one(c) == 1
        assert anyio.current_time() - started >= 0.05
    assert len(wire.sent(SEND)) == 2


async def test_html_body_is_decode_error_not_retried(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(SEND, MockResponse(content=b"<html>oops</html>"))
    with pytest.raises(dingnotify.ResponseDecodeError):
        await send_one(client)
    assert len(wire.sent(SEND)) == 1


async def test_timeout_is_transport_and_builtin_timeout(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(SEND, TimeoutError())
    with pytest.raises(TimeoutError) as info:
        await send_one(client)
    assert isinstance(info.value, dingnotify.RequestTimeoutError)
    assert isinstance(info.value, dingnotify.TransportError)
    assert len(wire.sent(SEND)) == 4


async def test_connection_error_is_retried_as_connection_failed(
    client: dingnotify.DingTalkClient, wire: Scripted
) -> None:
    wire.route(SEND, ConnectionResetError("reset"), ConnectionRefusedError("refused"), OK)
    assert await send_one(client) == 1
    wire.route(SEND, ConnectionError("down"))
    with pytest.raises(dingnotify.ConnectionFailedError):
        await send_one(client)


async def test_slow_handler_times_out_per_request(wire: Scripted) -> None:
    async def slow(request: MockRequest) -> MockResponse:
        await anyio.sleep(10)
        return OK

    wire.route(SEND, slow)
    async with client_with(wire, timeout=0.02, retry=fast(2)) as c:
        with anyio.fail_after(2), pytest.raises(dingnotify.RequestTimeoutError):
            await send_one(c)
    assert len(wire.sent(SEND)) == 2


def test_retry_policy_delays() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, jitter=False)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    jittered = RetryPolicy(base_delay=0.5, max_delay=8.0)
    assert all(1.0 <= jittered.delay(3) <= 2.0 for _ in range(50))
    retry_after = dingnotify.HTTPStatusError(429, "x", retry_after=3.0)
    assert policy.delay(1, retry_after) == 3.0
    assert policy.delay(1, dingnotify.IPBannedError(7.0)) == 7.0
    for bad in ({"max_attempts": 0}, {"rate_limit_attempts": 0}, {"max_attempts": True},
                {"base_delay": -1}, {"max_delay": float("inf")}, {"deadline": 0}):
        with pytest.raises(dingnotify.ValidationError):
            RetryPolicy(**bad)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


# --- one budget for the whole call: max_attempts=N means at most N /gettoken requests ---

GETTOKEN_FAILURES: list[MockResponse | BaseException] = [
    MockResponse(503), TimeoutError(), ConnectionResetError("reset"), err(-1, "busy"),
    MockResponse(429),
]


@pytest.mark.parametrize("attempts", [1, 2, 4])
@pytest.mark.parametrize("failure", GETTOKEN_FAILURES, ids=repr)
async def test_failing_gettoken_is_asked_exactly_max_attempts_times(
    wire: Scripted, attempts: int, failure: MockResponse | BaseException
) -> None:
    wire.route(GETTOKEN, failure)
    wire.route(SEND, OK)
    async with client_with(wire, retry=fast(attempts)) as c:
        with pytest.raises(dingnotify.DingNotifyError) as info:
            await send_one(c)
    assert info.value.retryable
    assert wire.paths() == [GETTOKEN] * attempts


async def test_gettoken_rate_limited_stays_within_max_attempts(wire: Scripted) -> None:
    wire.route(GETTOKEN, err(90018, "qps"))
    wire.route(SEND, OK)
    async with client_with(wire, retry=fast(2, rate_limit_attempts=6)) as c:
        with pytest.raises(dingnotify.RateLimitedError):
            await send_one(c)
    assert len(wire.sent(GETTOKEN)) <= 2


async def test_gettoken_and_send_failures_share_one_budget(wire: Scripted) -> None:
    wire.route(GETTOKEN, MockResponse(503), MockResponse(503), token_answer())
    wire.route(SEND, MockResponse(502), OK)
    async with client_with(wire, retry=fast(4)) as c:
        assert await send_one(c) == 1
    assert wire.paths() == [GETTOKEN, GETTOKEN, GETTOKEN, SEND, SEND]

    failing = Scripted()
    failing.route(GETTOKEN, MockResponse(503), MockResponse(503), token_answer())
    failing.route(SEND, MockResponse(502), OK)
    async with client_with(failing, retry=fast(3)) as c:
        with pytest.raises(dingnotify.ServerError):
            await send_one(c)
    assert failing.paths() == [GETTOKEN, GETTOKEN, GETTOKEN, SEND]


async def test_gettoken_outage_with_many_callers_costs_one_request(wire: Scripted) -> None:
    async def down(request: MockRequest) -> MockResponse:
        await anyio.sleep(0.01)
        return MockResponse(503)

    wire.route(GETTOKEN, down)
    wire.route(SEND, OK)
    async with client_with(wire, retry=RetryPolicy.none()) as c:
        outcomes = await asyncio.gather(*(send_one(c) for _ in range(50)),
                                        return_exceptions=True)
    assert all(isinstance(o, dingnotify.ServerError) for o in outcomes)
    assert wire.paths() == [GETTOKEN]


async def test_deadline_bounds_the_whole_call(wire: Scripted) -> None:
    wire.route(SEND, MockResponse(503))
    policy = RetryPolicy(max_attempts=1000, base_delay=0.01, max_delay=0.01, jitter=False,
                         deadline=0.1)
    async with client_with(wire, retry=policy) as c:
        started = anyio.current_time()
        with pytest.raises(dingnotify.TransportError):
            await send_one(c)
        assert anyio.current_time() - started < 1.0
    assert 2 <= len(wire.sent(SEND)) < 50


async def test_retry_on_adds_classes(wire: Scripted) -> None:
    wire.route(SEND, err(40035, "缺少参数"), OK)
    policy = RetryPolicy(base_delay=0.001, jitter=False,
                         retry_on=(dingnotify.InvalidArgumentError,))
    async with client_with(wire, retry=policy) as c:
        assert await send_one(c) == 1
    assert len(wire.sent(SEND)) == 2


async def test_per_call_retry_overrides_the_client_default(wire: Scripted) -> None:
    wire.route(SEND, MockResponse(503))
    async with client_with(wire, retry=fast(4)) as c:
        with pytest.raises(dingnotify.ServerError):
            await c.work_notice.send(Text(content="x"), userids=["u"], retry=fast(2))
    assert len(wire.sent(SEND)) == 2


@pytest.mark.parametrize("failure", [
    MockResponse(302, headers={"Location": "https://elsewhere.test/"}), MockResponse(400),
    MockResponse(content=b"<html>oops</html>"), err(40089, "bad secret"), err(60011, "ip"),
], ids=repr)
async def test_gettoken_failures_that_cannot_heal_are_asked_once(
    wire: Scripted, failure: MockResponse
) -> None:
    wire.route(GETTOKEN, failure)
    async with client_with(wire, retry=fast(4)) as c:
        with pytest.raises(dingnotify.DingNotifyError) as info:
            await send_one(c)
    assert not info.value.retryable
    assert wire.paths() == [GETTOKEN]
