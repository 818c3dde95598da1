"""The quota governor's sliding windows and penalties, on an injected clock whose sleep
advances it: no test here waits in real time (but one, marked below)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from itertools import pairwise

import anyio
import pytest

import dingnotify
from dingnotify import IPBannedError, Quota, RateLimitedError, Text, ValidationError
from dingnotify._api.oapi_wire import error_for as oapi_error
from dingnotify._quota import SECOND_SPAN, Governor, span_of
from dingnotify.testing import MockRequest, MockResponse
from tests.conftest import SEND, Scripted, client_with, err, ok

EPS = 1e-9
# The contract: at most ``qps`` calls in any 1 s span and ``calls_per_minute`` (or
# ``recipients_per_minute``) in any 60 s span, counted between answers here (each call is
# answered at once). The governor may keep wider windows.
SECOND, MINUTE = 1.0, 60.0


class FakeTime:
    """A monotonic clock; ``sleep`` advances it at once (and lets other tasks run)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


def governor(quota: Quota) -> tuple[Governor, FakeTime]:
    clock = FakeTime()
    return Governor(quota, clock=clock, sleep=clock.sleep), clock


async def stamps_of(gov: Governor, clock: FakeTime, api: str, n: int,
                    recipients: int = 0) -> list[float]:
    stamps = []
    for _ in range(n):
        (await gov.acquire(api, recipients)).done()
        stamps.append(clock.now)
    return stamps


def most_in_any_span(stamps: Sequence[float], span: float,
                     weights: Sequence[int] | None = None) -> int:
    """The largest total weight of acquisitions inside any half-open window ``span`` wide."""
    weights = weights if weights is not None else [1] * len(stamps)
    best = 0
    for i, start in enumerate(stamps):
        best = max(best, sum(w for t, w in zip(stamps[i:], weights[i:], strict=True)
                             if t < start + span - EPS))
    return best


async def test_never_more_than_qps_in_any_second() -> None:
    gov, clock = governor(Quota(qps=20))
    stamps = await stamps_of(gov, clock, "send", 100)
    assert most_in_any_span(stamps, SECOND) == 20
    assert stamps[:2] == [1000.0] * 2  # a burst of a tenth of the budget goes out at once
    gaps = [b - a for a, b in itertools.pairwise(stamps[2:21])]
    assert min(gaps) >= SECOND_SPAN / 20 - EPS  # then calls are spaced, not bunched
    assert stamps[-1] - stamps[0] < 5 * SECOND_SPAN + 0.01  # no slower than the budget needs


async def test_fractional_qps_rounds_down() -> None:
    gov, clock = governor(Quota(qps=2.5))
    stamps = await stamps_of(gov, clock, "send", 10)
    assert most_in_any_span(stamps, SECOND) == 2


async def test_never_more_than_calls_per_minute_in_any_minute() -> None:
    gov, clock = governor(Quota(qps=60, calls_per_minute=1500))
    stamps = await stamps_of(gov, clock, "send", 1700)
    assert most_in_any_span(stamps, MINUTE) == 1500
    assert most_in_any_span(stamps, SECOND) <= 60
    assert stamps[1499] - stamps[0] < 26  # 1,500 calls at 60 per second: about 25 s
    assert stamps[1500] - stamps[0] >= MINUTE - EPS


async def test_never_more_than_recipients_per_minute_for_the_send_api() -> None:
    gov, clock = governor(Quota(qps=40, recipients_per_minute=5000))
    weights = [100, 40, 100, 7] * 100
    stamps = []
    for weight in weights:
        (await gov.acquire(SEND, weight)).done()
        stamps.append(clock.now)
    assert most_in_any_span(stamps, MINUTE, weights) <= 5000
    assert sum(weights) > 3 * 5000  # the budget bound several minutes over


async def test_recipients_budget_is_per_app_across_calls_without_it() -> None:
    gov, clock = governor(Quota(qps=40, recipients_per_minute=1000, userids_per_call=100))
    await stamps_of(gov, clock, SEND, 10, recipients=100)
    assert clock.now < 1000.0 + SECOND_SPAN  # 10 calls: spaced within the first second
    before = clock.now
    await gov.acquire("/topapi/message/corpconversation/getsendresult")  # no recipients
    assert clock.now == before
    await gov.acquire(SEND, 1)
    assert clock.now >= 1000.0 + MINUTE - EPS


async def test_penalties_after_rate_limit_answers() -> None:
    for error, pause in [
        (oapi_error(90018, "qps"), 1.0),
        (oapi_error(90019, "qps"), 1.0),
        (oapi_error(88, "e", sub_code="90018"), 1.0),
        (oapi_error(90006, "minute"), 5.0),
        (oapi_error(90005, "minute"), 5.0),
        (oapi_error(90002, "platform"), 2.0),
    ]:
        gov, clock = governor(Quota())
        await gov.acquire("a")
        gov.penalize("a", error)
        await gov.acquire("b")  # another API is not closed
        assert clock.now == 1000.0
        await gov.acquire("a")
        assert clock.now == pytest.approx(1000.0 + pause), error


async def test_ip_ban_closes_every_api_for_its_wait() -> None:
    gov, clock = governor(Quota())
    gov.penalize("a", IPBannedError(7.0))
    await gov.acquire("b")
    assert clock.now == pytest.approx(1007.0)
    await gov.acquire("a")
    assert clock.now == pytest.approx(1007.0)


async def test_penalties_do_not_shorten_each_other() -> None:
    gov, clock = governor(Quota())
    gov.penalize("a", oapi_error(90006, "minute"))
    gov.penalize("a", RateLimitedError(90018, "qps"))
    await gov.acquire("a")
    assert clock.now == pytest.approx(1005.0)


async def test_separate_apis_have_separate_windows() -> None:
    gov, clock = governor(Quota(qps=20))
    a = await stamps_of(gov, clock, "a", 20)
    b = await stamps_of(gov, clock, "b", 20)
    c = await stamps_of(gov, clock, "c", 20)
    assert b[0] == a[-1] and c[0] == b[-1]  # another API's budget is untouched
    assert all(s[-1] - s[0] < SECOND_SPAN for s in (a, b, c))
    await gov.acquire("a")  # a's 21st call: a's own window, long since past
    assert clock.now == c[-1]


async def test_an_api_can_have_a_budget_of_its_own() -> None:
    """``limit``: one window of its own (a robot's 20 a minute), in a burst, with the usual
    margin; the other APIs keep the quota's windows, and penalties still close it."""
    gov, clock = governor(Quota(qps=20))
    gov.limit("robot", 3, 10.0)
    robot = await stamps_of(gov, clock, "robot", 7)
    assert robot[:3] == [1000.0] * 3  # a burst: no spacing within the budget
    assert robot[3] == pytest.approx(1000.0 + span_of(10.0)) and span_of(10.0) > 10.0
    assert most_in_any_span(robot, 10.0) == 3
    other = await stamps_of(gov, clock, "other", 20)
    assert other[-1] - other[0] < SECOND_SPAN  # the quota's per-second budget, unchanged
    gov.penalize("robot", RateLimitedError(130101, "too fast"))
    before = clock.now
    await gov.acquire("robot")
    assert clock.now >= before + 1.0  # RateLimitedError.pause


@pytest.mark.parametrize(("calls", "seconds"), [(0, 60.0), (1.5, 60.0), (True, 60.0),
                                                (20, 0), (20, math.inf), (20, "60")])
def test_invalid_budgets_are_refused(calls: object, seconds: object) -> None:
    gov, _ = governor(Quota())
    with pytest.raises(ValidationError):
        gov.limit("robot", calls, seconds)  # type: ignore[arg-type]


async def test_callers_of_one_api_are_served_in_arrival_order() -> None:
    gov, clock = governor(Quota(qps=3))
    served: list[int] = []

    async def caller(number: int) -> None:
        (await gov.acquire("a")).done()
        served.append(number)

    async with anyio.create_task_group() as tg:
        for number in range(30):
            tg.start_soon(caller, number)
            await anyio.lowlevel.checkpoint()
    assert served == list(range(30))
    assert clock.now >= 1000.0 + 9 * SECOND - EPS


async def test_a_workload_inside_the_budget_is_not_delayed() -> None:
    gov, clock = governor(Quota(qps=20, calls_per_minute=1500, recipients_per_minute=5000))
    for api in ("send", "progress", "result", "recall"):
        stamps = await stamps_of(gov, clock, api, 20)
        assert stamps[-1] - stamps[0] < SECOND_SPAN  # a second's budget within the second
    first = await stamps_of(gov, clock, SEND, 20, recipients=100)
    clock.now += SECOND_SPAN + 0.001  # the next second
    second = await stamps_of(gov, clock, SEND, 20, recipients=100)
    assert first[-1] - first[0] < SECOND_SPAN and second[-1] - second[0] < SECOND_SPAN
    assert max(clock.slept) <= SECOND_SPAN / 20 + EPS  # spacing only: no window ever full


@pytest.mark.parametrize("kwargs", [
    {"qps": 0}, {"qps": -1}, {"qps": math.inf}, {"qps": math.nan}, {"qps": True},
    {"qps": "20"}, {"calls_per_minute": 0}, {"calls_per_minute": 1.5},
    {"recipients_per_minute": -5}, {"userids_per_call": 5001}, {"dept_ids_per_call": 501},
    {"userids_per_call": 0}, {"recipients_per_dept": 0},
    {"recipients_per_minute": 50, "userids_per_call": 100},
])
def test_invalid_quotas_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Quota(**kwargs)  # type: ignore[arg-type]


def test_editions_and_defaults() -> None:
    assert Quota() == Quota.standard()
    assert (Quota.standard().qps, Quota.professional().qps, Quota.exclusive().qps) == (20, 40, 60)
    for quota in (Quota.standard(), Quota.professional(), Quota.exclusive()):
        assert (quota.calls_per_minute, quota.recipients_per_minute, quota.userids_per_call,
                quota.dept_ids_per_call) == (1500, 5000, 100, 20)
    assert Quota(userids_per_call=5000, dept_ids_per_call=500).userids_per_call == 5000
    with pytest.raises(ValidationError):
        dingnotify.DingTalkClient("k", "s", quota="standard")  # type: ignore[arg-type]


def test_reservation_rule_for_departments_and_everyone() -> None:
    quota = Quota(recipients_per_dept=250)
    assert quota.reservation(100, 0, False) == 100
    assert quota.reservation(10, 2, False) == 510
    assert quota.reservation(0, 20, False) == 5000  # capped at the minute's budget
    assert quota.reservation(0, 0, True) == 5000


async def test_client_uses_the_standard_quota_by_default() -> None:
    async with dingnotify.DingTalkClient("k", "s") as c:
        assert c.quota == Quota.standard()


async def test_rate_limit_answer_closes_the_api_in_the_client(wire: Scripted) -> None:
    """Real time (about one second): 90018 makes the governor hold the retry back."""
    wire.route(SEND, err(90018, "qps"), ok(task_id=3))
    async with client_with(wire, quota=Quota()) as c:
        started = anyio.current_time()
        assert await c.work_notice.send(Text(content="x"), userids=["u"]) == 3
        assert anyio.current_time() - started >= 1.0
    assert len(wire.sent(SEND)) == 2


async def test_client_without_quota_is_not_paced(wire: Scripted) -> None:
    wire.route(SEND, MockResponse(json={"errcode": 0, "task_id": 1}))
    async with client_with(wire, quota=None) as c:
        started = anyio.current_time()
        for _ in range(50):
            await c.work_notice.send(Text(content="x"), userids=["u"])
        assert anyio.current_time() - started < 1.0


async def test_a_qps_below_one_spaces_calls_further_apart() -> None:
    gov, clock = governor(Quota(qps=0.5))
    stamps = await stamps_of(gov, clock, "a", 4)
    assert all(b - a >= 2.0 - EPS for a, b in pairwise(stamps))


async def test_ip_ban_pauses_every_worker_of_a_broadcast(wire: Scripted) -> None:
    """Real time (about 0.3 s): after the ban page no request goes out until it lifts."""
    arrivals: list[float] = []

    def answer(request: MockRequest) -> MockResponse:
        arrivals.append(anyio.current_time())
        if len(arrivals) == 1:
            return MockResponse(json={"status": 1111, "wait": 0.3, "punish": "deny"})
        return ok(task_id=len(arrivals))

    wire.route(SEND, answer)
    async with client_with(wire, quota=Quota()) as c:
        report = await c.work_notice.broadcast(Text(content="x"),
                                               userids=[f"u{i}" for i in range(500)],
                                               concurrency=5)
    assert report.complete and len(report.task_ids) == 5 and report.rate_limited == 1
    banned_at = arrivals[0]
    later = [t for t in arrivals[1:] if t > banned_at + 0.01]
    early = [t for t in arrivals[1:] if t <= banned_at + 0.01]
    assert len(early) <= 4  # already on their way when the ban page came back
    assert all(t >= banned_at + 0.3 - 0.01 for t in later)
    assert len(arrivals) == 6


async def test_record_counts_calls_answered_in_the_past() -> None:
    """``record(age=)``: a call answered ``age`` seconds ago fills its windows until one
    window after that moment, not after now (a resumed journal seeds the governor so)."""
    gov, clock = governor(Quota(qps=20, recipients_per_minute=1000, userids_per_call=100))
    gov.record(SEND, 600, age=50.0)
    gov.record(SEND, 400, age=10.0)
    gov.record(SEND, 0)  # the old signature still works
    await gov.acquire(SEND, 100)
    assert clock.now == pytest.approx(1000.0 - 50.0 + MINUTE, abs=0.5)  # the older 600 freed
    with pytest.raises(ValidationError):
        gov.record(SEND, 1, age=-1.0)
