"""A robot's 20 messages a minute are a governor budget; 130101 closes it; retries follow
the ``RetryPolicy``; the old keywords still work, with one warning."""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
import warnings
from pathlib import Path
from types import SimpleNamespace

import anyio
import pytest
from aiohttp import web

import dingnotify._retry
from dingnotify import (
    ConnectionFailedError,
    Governor,
    Quota,
    ResponseDecodeError,
    RetryPolicy,
    ValidationError,
)
from dingnotify._constants import MAX_RESPONSE_BYTES
from dingnotify.testing import MockRequest, MockResponse, MockTransport
from dingnotify.webhook import (
    SlidingWindowLimiter,
    Text,
    WebhookRateLimitedError,
    WebhookRejectedError,
    WebhookRobot,
)
from dingnotify.webhook._pacing import SHARED, shared_limiter
from tests.conftest import err, local_server, ok
from tests.unit.webhook_mock import PATH, URL, FakeTime, mock_robot, script

GOT_OK = ok()


# -- the thread-safe window ------------------------------------------------------------


async def test_the_21st_of_25_waits_until_the_window_slides() -> None:
    clock = FakeTime(start=1000.0)
    limiter = SlidingWindowLimiter(20, 60.0, clock=clock, sleep=clock.sleep)
    started: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        started.append(clock())

    await asyncio.gather(*(one() for _ in range(25)))
    assert started[:20] == [1000.0] * 20
    assert sorted(started[20:]) == [1060.0] * 5
    for i in range(len(started) - 20):  # never more than 20 in any 60 s
        assert sorted(started)[i + 20] - sorted(started)[i] >= 60.0


async def test_window_slides_with_spread_out_sends() -> None:
    clock = FakeTime(start=0.0)
    limiter = SlidingWindowLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.acquire()
        clock.now += 4.0  # sends at 0, 4, 8
    assert limiter.delay() == pytest.approx(0.0)  # now 12: the send at 0 has left the window
    await limiter.acquire()  # at 12
    assert limiter.delay() == pytest.approx(2.0)  # the send at 4 leaves at 14


# -- the budget in a governor ------------------------------------------------------------


def stamped(time: FakeTime, *answers: MockResponse) -> tuple[list[float], MockTransport]:
    """A transport noting the fake time of every request; answers in order, then success."""
    stamps: list[float] = []
    queue = list(answers)

    def handler(request: MockRequest) -> MockResponse:
        stamps.append(time())
        return queue.pop(0) if queue else GOT_OK

    return stamps, MockTransport(handler)


async def test_the_21st_send_within_a_minute_waits_for_the_window() -> None:
    time = FakeTime(start=1000.0)
    stamps, transport = stamped(time)
    async with mock_robot(script(), time=time, transport=transport) as r:
        for i in range(21):
            await r.send(Text(content=f"alert {i}"))
    assert stamps[:20] == [1000.0] * 20
    assert stamps[20] >= 1060.0  # the budget's window (60 s and its margin) slid first


async def test_two_robots_on_one_url_share_the_budget_of_their_governor() -> None:
    time = FakeTime(start=0.0)
    governor = Governor(Quota(), clock=time, sleep=time.sleep)
    stamps, transport = stamped(time)
    async with mock_robot(script(), time=time, transport=transport, governor=governor) as a, \
            mock_robot(script(), time=time, transport=transport, governor=governor) as b:
        assert a.api == b.api and a.api.startswith("webhook:")
        for _ in range(10):
            await a.send(Text(content="a"))
            await b.send(Text(content="b"))
        await b.send(Text(content="b, the 21st"))
    assert stamps[:20] == [0.0] * 20 and stamps[20] >= 60.0
    assert governor.limits == {a.api: (20, 60.0)}


async def test_130101_closes_the_budget_for_its_pause_then_is_retried() -> None:
    time = FakeTime(start=0.0)
    governor = Governor(Quota(), clock=time, sleep=time.sleep)
    stamps, transport = stamped(time, err(130101, "send too fast"))
    async with mock_robot(script(), time=time, transport=transport, governor=governor) as r:
        await r.send(Text(content="x"))
    assert WebhookRateLimitedError(130101, "").pause == 60.0
    assert len(stamps) == 2 and stamps[1] - stamps[0] >= 60.0


async def test_130101_retries_are_bounded_by_the_policy() -> None:
    wire = script(err(130101, "send too fast"))
    async with mock_robot(wire) as r:  # rate_limit_attempts=3
        with pytest.raises(WebhookRateLimitedError):
            await r.send(Text(content="x"))
    assert len(wire.requests) == 3


async def test_a_transport_failure_is_retried_with_jitter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(dingnotify._retry, "anyio", SimpleNamespace(sleep=sleep))
    failures = [ConnectionError("reset")] * 3
    wire = script(*failures, GOT_OK)
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=8.0,
                         _rng=random.Random(7))
    async with mock_robot(wire, retry=policy) as r:
        await r.send(Text(content="x"))
    assert len(wire.requests) == 4
    ceilings = [1.0, 2.0, 4.0]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert waits != [c / 2 for c in ceilings] and waits != ceilings  # drawn, not fixed


async def test_only_130101_and_transport_failures_are_retried() -> None:
    wire = script(ConnectionError("reset"), err(130101), err(310000, "sign not match"))
    async with mock_robot(wire) as r:
        with pytest.raises(WebhookRejectedError):
            await r.send(Text(content="x"))
    assert len(wire.requests) == 3


# -- the default: one process-wide window per URL, on any thread --------------------------


def fresh_url() -> str:
    return f"https://oapi.example{PATH}?access_token=t{uuid.uuid4().hex}"


def test_robots_on_the_same_url_share_one_window() -> None:
    url = fresh_url()
    a, b, c = WebhookRobot(url), WebhookRobot(url), WebhookRobot(fresh_url())
    assert a.governor is b.governor is SHARED
    assert a.limiter is b.limiter is shared_limiter(a._creds.key)
    assert c.limiter is not a.limiter


async def test_the_process_wide_budget_holds_across_threads_and_event_loops() -> None:
    url = fresh_url()
    async with WebhookRobot(url, transport=MockTransport(lambda r: GOT_OK)) as a:
        for _ in range(20):
            await a.send(Text(content="a"))
    other = WebhookRobot(url, transport=MockTransport(lambda r: GOT_OK))
    outcome: list[bool] = []

    async def in_another_loop() -> None:
        with anyio.move_on_after(0.3) as scope:
            await other.send(Text(content="b"))
        outcome.append(scope.cancelled_caught)
        await other.aclose()

    thread = threading.Thread(target=lambda: asyncio.run(in_another_loop()))
    thread.start()
    thread.join(5)
    assert outcome == [True]  # the 21st waited for the window, on another thread's loop
    assert other.limiter is not None and other.limiter.delay() > 59


# -- the shared transport: redirects and oversized bodies -------------------------------------


async def test_a_body_over_the_cap_is_refused() -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"x" * (MAX_RESPONSE_BYTES + 1))

    async with local_server(huge) as base:
        url = f"{base}{PATH}?access_token=tok"
        async with WebhookRobot(url, governor=Governor(Quota())) as r:
            with pytest.raises(ResponseDecodeError, match="exceeds"):
                await r.send(Text(content="x"))


async def test_connection_failures_go_through_the_shared_transport() -> None:
    wire = script(ConnectionError("refused"))
    async with mock_robot(wire, retry=RetryPolicy(max_attempts=2, base_delay=0.001)) as r:
        with pytest.raises(ConnectionFailedError):
            await r.send(Text(content="x"))
    assert len(wire.requests) == 2


async def test_close_and_aclose_close_the_transport() -> None:
    transport = MockTransport(lambda r: GOT_OK)
    robot = WebhookRobot(URL, transport=transport, governor=Governor(Quota()))
    await robot.close()
    assert transport.closed
    await robot.aclose()  # idempotent


# -- the keywords of the old robot ------------------------------------------------------


def test_old_keywords_warn_once_and_map_onto_the_policy_and_budget() -> None:
    limiter = SlidingWindowLimiter(5, 10.0)
    with pytest.warns(DeprecationWarning) as caught:
        robot = WebhookRobot(URL, max_retries=1, max_rate_limited_retries=0, retry_delay=0.2,
                             limiter=limiter)
    assert len(caught) == 1 and Path(caught[0].filename) == Path(__file__)
    assert "retry=RetryPolicy(" in str(caught[0].message)
    policy = robot._http.retry
    assert (policy.max_attempts, policy.rate_limit_attempts, policy.base_delay) == (2, 1, 0.2)
    assert robot.limiter is limiter


def test_new_robots_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WebhookRobot(URL, retry=RetryPolicy(), governor=Governor(Quota()))


@pytest.mark.parametrize("kw", [
    {"retry": RetryPolicy(), "max_retries": 1},
    {"governor": Governor(Quota()), "limiter": SlidingWindowLimiter()},
    {"governor": Governor(Quota()), "coordination": object()},
])
def test_conflicting_keywords_are_refused(kw: dict[str, object]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValidationError):
            WebhookRobot(URL, **kw)  # type: ignore[arg-type]


def test_unknown_keywords_are_still_a_type_error() -> None:
    with pytest.raises(TypeError, match="max_retry"):
        WebhookRobot(URL, max_retry=1)  # type: ignore[call-arg]
