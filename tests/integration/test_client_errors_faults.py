"""Error paths, token expiry on an injected clock, and every fault kind as the client sees it."""

from __future__ import annotations

import time
from typing import Literal

import anyio
import pytest

from dingnotify import (
    ConnectionFailedError,
    CredentialsError,
    HTTPStatusError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseDecodeError,
    RetryPolicy,
    ServerBusyError,
    Text,
    TokenError,
)
from dingnotify.testing import Emulator, Fault, FaultPlan, ManualClock
from tests.emulated import client_for

SEND = "/topapi/message/corpconversation/asyncsend_v2"
MOBILE = "/user/get_by_mobile"




def answers(emu: Emulator, path: str) -> list[object]:
    return [r.response for r in emu.requests if r.path == path]


@pytest.mark.parametrize("style", ["wrapped", "plain"])
async def test_revoked_token_refreshes_once_and_retries(
        clock: ManualClock, style: Literal["wrapped", "plain"]) -> None:
    async with Emulator(clock=clock, topapi_error_style=style) as emu, \
            client_for(emu, clock) as client:
        await client.work_notice.send(Text(content="a"), userids=["u000001"])
        emu.revoke_tokens()
        task_id = await client.work_notice.send(Text(content="b"), userids=["u000001"])
        assert task_id in emu.tasks
        assert emu.count("/gettoken") == 2 and emu.count(SEND) == 3
        rejected = answers(emu, SEND)[1]
        assert isinstance(rejected, dict)
        if style == "wrapped":
            assert (rejected["errcode"], rejected["sub_code"]) == (88, "40014")
        else:
            assert rejected["errcode"] == 40014
        emu.revoke_tokens()  # the classic (non-topapi) paths answer a plain 40014
        assert await client.users.get_by_mobile("13800000001") == "u000001"
        assert emu.count("/gettoken") == 3


async def test_token_error_twice_raises_after_one_refresh(emu: Emulator) -> None:
    emu.faults = FaultPlan(script={SEND: ["errcode_40014", "errcode_40014"]})
    async with client_for(emu) as client:
        with pytest.raises(TokenError):
            await client.work_notice.send(Text(content="t"), userids=["u000001"])
    assert emu.count("/gettoken") == 2 and emu.count(SEND) == 2 and emu.tasks == {}


async def test_agent_mismatch_is_permission_denied(emu: Emulator) -> None:
    async with client_for(emu) as client:
        with pytest.raises(PermissionDeniedError) as info:
            await client.work_notice.send(Text(content="x"), userids=["u000001"], agent_id=999)
    assert (info.value.errcode, info.value.effective_code) == (88, 60011)
    assert emu.count(SEND) == 1  # never retried


async def test_bad_secret_is_credentials_error_without_retry(emu: Emulator) -> None:
    async with client_for(emu, secret="wrong-secret") as client:
        with pytest.raises(CredentialsError) as info:
            await client.work_notice.send(Text(content="x"), userids=["u000001"])
    assert info.value.errcode == 40096 and not info.value.retryable
    assert emu.count("/gettoken") == 1 and emu.count(SEND) == 0


@pytest.mark.parametrize("margin", [0.0, 300.0])
async def test_token_expiry_on_the_injected_clock(clock: ManualClock, margin: float) -> None:
    async with Emulator(clock=clock) as emu, \
            client_for(emu, clock, token_refresh_margin=margin) as client:
        first = await client.get_access_token()
        clock.advance(7199 - margin)
        assert await client.get_access_token() == first
        await client.work_notice.send(Text(content="1"), userids=["u000001"])
        assert emu.count("/gettoken") == 1
        clock.advance(1 + margin)  # 7200 s after issue: expired on both sides
        await client.work_notice.send(Text(content="2"), userids=["u000001"])
        assert emu.count("/gettoken") == 2 and emu.tokens_issued == 2
        assert await client.get_access_token() != first
        assert all(r.status == 200 and (r.response or {})["errcode"] == 0
                   for r in emu.requests if r.path == SEND)


@pytest.mark.parametrize(("kind", "status"), [("http_500", 500), ("http_502", 502),
                                              ("http_503", 503)])
async def test_http_5xx_retried_then_reported(emu: Emulator, kind: str, status: int) -> None:
    emu.faults = FaultPlan(script={SEND: [kind]})
    async with client_for(emu) as client:
        assert await client.work_notice.send(Text(content="ok"), userids=["u000001"]) in emu.tasks
        emu.faults = FaultPlan(rules=[Fault(path=SEND, kind=kind)])
        with pytest.raises(HTTPStatusError) as info:
            await client.work_notice.send(Text(content="no"), userids=["u000002"])
    assert info.value.status == status and info.value.retryable
    assert emu.count(SEND) == 1 + 1 + 3 and len(emu.tasks) == 1


async def test_drop_is_connection_failed_after_retries(emu: Emulator) -> None:
    emu.faults = FaultPlan(rules=[Fault(path=SEND, kind="drop")])
    async with client_for(emu) as client:
        with pytest.raises(ConnectionFailedError):
            await client.work_notice.send(Text(content="d"), userids=["u000001"])
        assert emu.count(SEND) == 3 and emu.tasks == {}
        emu.faults = FaultPlan(script={SEND: ["drop"]})
        assert await client.work_notice.send(Text(content="d"), userids=["u000001"]) in emu.tasks


@pytest.mark.parametrize("after_accept", [False, True])
async def test_delay_beyond_timeout_is_request_timeout(emu: Emulator, after_accept: bool) -> None:
    emu.faults = FaultPlan(rules=[Fault(path=SEND, kind="delay", delay=0.6,
                                        after_accept=after_accept)])
    async with client_for(emu, timeout=0.2) as client:
        await client.get_access_token()
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as info:
            await client.work_notice.send(Text(content="slow"), userids=["u000001"])
        assert time.monotonic() - started < 1.5
    assert isinstance(info.value, TimeoutError)
    assert emu.count(SEND) == 3
    if after_accept:
        # Each attempt was accepted before the server stalled: every timeout is ambiguous,
        # and the same-content rule keeps a single copy in the inbox.
        assert len(emu.tasks) == 3
        assert len(emu.inboxes["u000001"]) == 1 and emu.duplicates_dropped == 2
    else:
        # The client gave up before the server got to the request: nothing was sent.
        await emu.drain()  # past the stall of the last attempt
        assert emu.tasks == {} and not emu.inboxes.get("u000001")


async def test_per_call_timeout_overrides_client_default(emu: Emulator) -> None:
    emu.faults = FaultPlan(script={SEND: [Fault(path=SEND, kind="delay", delay=0.5)]})
    async with client_for(emu, timeout=5) as client:
        with pytest.raises(RequestTimeoutError):
            await client.work_notice.send(Text(content="x"), userids=["u000001"], timeout=0.1,
                                          retry=RetryPolicy.none())


@pytest.mark.parametrize(("kind", "error"), [("errcode_-1", ServerBusyError),
                                             ("errcode_90018", RateLimitedError)])
async def test_errcode_faults_retried_then_typed(emu: Emulator, kind: str,
                                                 error: type[Exception]) -> None:
    emu.faults = FaultPlan(script={SEND: [kind, kind]})
    async with client_for(emu) as client:
        assert await client.work_notice.send(Text(content="x"), userids=["u000001"]) in emu.tasks
        assert emu.count(SEND) == 3
        emu.faults = FaultPlan(rules=[Fault(path=SEND, kind=kind)])
        with pytest.raises(error) as info:
            await client.work_notice.send(Text(content="y"), userids=["u000001"])
    assert info.value.retryable  # type: ignore[attr-defined]
    # Rate-limit answers (DingTalk did not process the call) draw on their own budget.
    policy = client.retry
    budget = policy.rate_limit_attempts if error is RateLimitedError else policy.max_attempts
    assert emu.count(SEND) == 3 + budget


async def test_revoke_token_fault_is_invisible_to_the_caller(emu: Emulator) -> None:
    emu.faults = FaultPlan(rules=[Fault(path=SEND, kind="revoke_token", times=1)])
    async with client_for(emu) as client:
        task_id = await client.work_notice.send(Text(content="x"), userids=["u000001"])
    assert task_id in emu.tasks and emu.faults_injected["revoke_token"] == 1
    assert emu.count("/gettoken") == 2 and emu.count(SEND) == 2


@pytest.mark.parametrize("kind", ["html_error", "garbage"])
async def test_unreadable_answers_are_decode_errors_not_retried(emu: Emulator,
                                                                kind: str) -> None:
    emu.faults = FaultPlan(rules=[Fault(path=SEND, kind=kind)])
    async with client_for(emu) as client:
        with pytest.raises(ResponseDecodeError) as info:
            await client.work_notice.send(Text(content="x"), userids=["u000001"])
    assert not info.value.retryable
    assert emu.count(SEND) == 1  # the server may have accepted: never blindly re-sent


async def test_faults_on_gettoken_and_lookups(emu: Emulator) -> None:
    emu.faults = FaultPlan(script={"/gettoken": ["http_502", "drop"], MOBILE: ["errcode_-1"]})
    async with client_for(emu) as client:
        assert await client.users.get_by_mobile("13800000002") == "u000002"
    assert emu.count("/gettoken") == 3 and emu.count(MOBILE) == 2


async def test_retry_deadline_bounds_a_call_with_its_own_timeout(emu: Emulator) -> None:
    emu.faults = FaultPlan(rules=[Fault(path=SEND, kind="delay", delay=3.0)])
    async with client_for(emu) as client:
        await client.get_access_token()
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await client.work_notice.send(Text(content="x"), userids=["u000001"], timeout=2.5,
                                          retry=RetryPolicy(deadline=0.4, base_delay=0.01))
        assert time.monotonic() - started < 1.0


async def test_bad_secret_with_many_waiters_is_not_a_thundering_herd(emu: Emulator) -> None:
    async with client_for(emu, secret="wrong-secret") as client:
        errors: list[BaseException] = []

        async def call() -> None:
            try:
                await client.get_access_token()
            except CredentialsError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(200):
                tg.start_soon(call)
    assert len(errors) == 200
    assert emu.count("/gettoken") == 1  # the waiters share the one failed fetch


async def test_gettoken_outage_does_not_serialise_waiting_callers(emu: Emulator) -> None:
    emu.faults = FaultPlan(rules=[Fault(path="/gettoken", kind="http_503")])
    async with client_for(emu, retry=RetryPolicy(max_attempts=3, base_delay=0.1,
                                                 jitter=False)) as client:
        failures: list[BaseException] = []

        async def call() -> None:
            try:
                await client.users.get_by_mobile("13800000001")
            except HTTPStatusError as exc:
                failures.append(exc)

        # Serialised, 100 callers x 3 call attempts x a 0.3 s fetch would need ~90 s.
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(100):
                    tg.start_soon(call)
        # Callers queued behind a failing fetch share its error: a few waves of fetches
        # (each up to 3 attempts), not one per caller (100 x 3 x 3 = 900).
        assert len(failures) == 100 and emu.count("/gettoken") <= 30
        emu.faults = None
        assert await client.users.get_by_mobile("13800000001") == "u000001"
