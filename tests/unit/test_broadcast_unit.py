"""Broadcast fan-out with a fake ``send``: batching, limits, retries, deadlines, accounting.

The fake runs each batch through the real retry engine, as the client does, so attempts,
retry events and budgets are the ones a user sees.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import dingnotify
from dingnotify import (
    BroadcastCancelledError,
    BroadcastTimeoutError,
    ConnectionFailedError,
    QuotaExhaustedError,
    RateLimitedError,
    RequestTimeoutError,
    RetryPolicy,
    ServerBusyError,
    ServerError,
    Text,
    ValidationError,
)
from dingnotify._recipients import BatchPlanner, UserIdStream
from dingnotify._retry import RetryHook, retrying
from dingnotify.broadcast import AttemptHook, Batch, BroadcastEvent, BroadcastReport, run_broadcast
from dingnotify.testing import MockRequest, MockResponse
from tests.conftest import SEND, Scripted, client_with, err, ok

FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002, jitter=False)


class FakeSend:
    """Records every attempt and the in-flight concurrency; fails according to ``plan``
    (keyed by a batch's first userid)."""

    def __init__(self, plan: dict[str, list[Exception]] | None = None, delay: float = 0.0,
                 retry: RetryPolicy = FAST) -> None:
        self.calls: list[tuple[tuple[str, ...], tuple[int, ...]]] = []
        self.acknowledged: dict[int, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.max_tasks = 0
        self.plan = plan or {}
        self.delay = delay
        self.retry = retry
        self.next_task = 1000

    async def __call__(self, batch: Batch, on_attempt: AttemptHook, on_retry: RetryHook) -> int:
        async def attempt(timeout: float) -> int:
            on_attempt()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.max_tasks = max(self.max_tasks, len(asyncio.all_tasks()))
            try:
                await anyio.sleep(self.delay)
                self.calls.append((batch.userids, batch.dept_ids))
                errors = self.plan.get(batch.userids[0] if batch.userids else "", [])
                if errors:
                    raise errors.pop(0)
                self.next_task += 1
                self.acknowledged[batch.index] = self.next_task
                return self.next_task
            finally:
                self.in_flight -= 1

        return await retrying(attempt, self.retry, timeout=10, on_retry=on_retry)


def ids(n: int, prefix: str = "u") -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(n)]


async def broadcast(send: FakeSend, userids: UserIdStream, dept_ids: Sequence[int] = (),
                    *, concurrency: int = 4, **kw: Any) -> BroadcastReport:
    planner = BatchPlanner(list(dept_ids), userids_per_call=100, dept_ids_per_call=20)
    return await run_broadcast(send, userids, planner=planner,
                               concurrency=concurrency, **kw)


def assert_accounted(report: BroadcastReport) -> None:
    """Every batch ends in exactly one state and none is left pending."""
    states = [b.state for b in report.batches]
    assert "pending" not in states
    assert (len(report.acknowledged) + len(report.failed) + len(report.unknown)
            == len(report.batches))
    assert not any(b.in_flight for b in report.batches)


async def test_exact_batches_for_userids_and_depts() -> None:
    users = ids(12_345)
    with_dups = users + users[:500] + users[100:200]
    depts = list(range(1, 46))
    send = FakeSend()
    report = await broadcast(send, with_dups, depts, concurrency=8)
    assert len(send.calls) == max(math.ceil(12_345 / 100), math.ceil(45 / 20)) == 124
    assert all(len(u) <= 100 and len(d) <= 20 for u, d in send.calls)
    batches = report.batches
    assert [b.index for b in batches] == list(range(124))
    assert [u for b in batches for u in b.userids] == users  # de-duplicated, in order
    assert [d for b in batches for d in b.dept_ids] == depts
    assert batches[0].dept_ids == tuple(range(1, 21)) and batches[3].dept_ids == ()
    assert all(isinstance(b.userids, tuple) and all(type(u) is str for u in b.userids)
               for b in batches)
    assert sorted(report.task_ids) == list(range(1001, 1125))
    assert report.failed == [] and report.unknown == [] and report.complete
    assert report.recipients == 12_345 and report.stopped_by is None
    assert {b.state for b in batches} == {"acknowledged"}
    assert all(b.attempts == 1 for b in batches)
    assert send.max_in_flight <= 8


async def test_more_dept_batches_than_user_batches() -> None:
    send = FakeSend()
    report = await broadcast(send, ids(150), list(range(1, 101)))
    assert len(send.calls) == 5
    assert [len(b.userids) for b in report.batches] == [100, 50, 0, 0, 0]
    assert [len(b.dept_ids) for b in report.batches] == [20] * 5


async def test_generator_and_async_iterator_inputs() -> None:
    def gen() -> Iterator[str]:
        yield from ids(250)
        yield from ids(10)

    async def agen() -> AsyncIterator[str]:
        for u in ids(250):
            yield u
        for u in ids(10):
            yield u

    for source in (gen(), agen()):
        send = FakeSend()
        report = await broadcast(send, source, concurrency=3)
        assert [len(c[0]) for c in sorted(send.calls)] == [100, 100, 50]
        assert [u for b in report.batches for u in b.userids] == ids(250)
        assert report.recipients == 250 and report.complete


async def test_an_async_iterator_that_awaits_feeds_many_workers_in_order() -> None:
    """Workers take their next batch as they finish one; an async generator that awaits
    between items cannot serve two of them at once ("already running"), so its reads are
    taken one at a time, and the batches keep the input's order."""
    async def agen() -> AsyncIterator[str]:
        for u in ids(2_000):
            if u.endswith("7"):
                await anyio.lowlevel.checkpoint()
            yield u

    send = FakeSend(delay=0.001)
    with anyio.fail_after(10):
        report = await broadcast(send, agen(), concurrency=8)
    assert report.complete and len(report.task_ids) == 20
    assert [u for b in report.batches for u in b.userids] == ids(2_000)
    assert [b.index for b in report.batches] == list(range(20))
    assert 1 < send.max_in_flight <= 8
    assert_accounted(report)


async def test_a_sync_mock_handler_still_lets_the_deadline_fire() -> None:
    """A handler that answers without awaiting (and takes real time) must not turn the
    broadcast into one uninterrupted run: ``MockTransport`` yields on every request, as a
    network transport does, so ``timeout=`` fires. 300 batches at 3 ms each would take
    0.9 s; the deadline is 0.15 s."""
    task = iter(range(1, 10_000))

    def slow_ok(request: MockRequest) -> MockResponse:
        time.sleep(0.003)
        return ok(task_id=next(task))

    wire = Scripted().route(SEND, slow_ok)
    async with client_with(wire) as client:
        started = time.monotonic()
        report = await client.work_notice.broadcast(
            Text(content="x"), userids=ids(30_000), concurrency=4, timeout=0.15)
        elapsed = time.monotonic() - started
    assert report.timed_out and not report.complete
    assert 0 < len(report.task_ids) < 300
    assert elapsed < 0.6
    assert_accounted(report)


async def test_concurrency_bound_is_respected() -> None:
    send = FakeSend(delay=0.005)
    await broadcast(send, ids(3000), concurrency=5)
    assert send.max_in_flight == 5


async def test_workers_never_outnumber_the_batches() -> None:
    send = FakeSend(delay=0.01)
    before = len(asyncio.all_tasks())
    with anyio.fail_after(5):
        report = await broadcast(send, ids(1000), concurrency=1_000_000)
    assert len(report.task_ids) == 10
    assert send.max_tasks - before <= 10


async def test_workers_never_outnumber_the_batches_of_a_stream() -> None:
    send = FakeSend(delay=0.01)
    before = len(asyncio.all_tasks())
    with anyio.fail_after(5):
        report = await broadcast(send, iter(ids(1000)), concurrency=5_000)
    assert len(report.task_ids) == 10
    assert send.max_tasks - before <= 10


async def test_failing_batch_does_not_cancel_the_others() -> None:
    boom = ServerBusyError(-1, "busy")
    send = FakeSend(plan={"u000200": [boom, boom, boom]})
    events: list[BroadcastEvent] = []
    report = await broadcast(send, ids(1000), concurrency=1, on_event=events.append)
    assert len(report.failed) == 1
    failed = report.failed[0]
    assert failed.error is boom and failed.task_id is None and failed.attempts == 3
    assert failed.state == "failed" and not failed.maybe_sent
    assert len(report.task_ids) == 9 and report.retries == 2
    kinds = [e.kind for e in events]
    assert kinds.count("sent") == 9 and kinds.count("failed") == 1 and kinds.count("retry") == 2
    covered = {u for b in report.batches for u in b.userids}
    assert covered == set(ids(1000))
    assert report.complete  # every batch had its outcome: a failure is not an abort


async def test_rate_limited_batches_are_retried_beyond_the_attempt_budget() -> None:
    limited: list[Exception] = [RateLimitedError(90018, "qps") for _ in range(2)]
    send = FakeSend(plan={"u000000": limited},
                    retry=RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.001,
                                      jitter=False))
    report = await broadcast(send, ids(100), concurrency=1)
    assert report.failed == [] and len(report.task_ids) == 1
    assert report.rate_limited == 2 and report.batches[0].attempts == 3


async def test_invalid_ids_in_a_list_raise_before_sending() -> None:
    send = FakeSend()
    bad: list[Any] = [["ok", ""], ["a,b"], ["ok", 7], ['x"y'], "u1,u2", "u000001", b"u1"]
    for userids in bad:
        with pytest.raises(ValidationError):
            await broadcast(send, userids, concurrency=1)
    with pytest.raises(ValidationError):
        await broadcast(send, [], concurrency=1)
    for concurrency in (0, -1, True, 1.5):
        with pytest.raises(ValidationError):
            await broadcast(send, ["u"], concurrency=concurrency)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await broadcast(send, ["u"], timeout=0)
    assert send.calls == []


async def test_invalid_ids_in_a_stream_are_reported_not_sent() -> None:
    events: list[BroadcastEvent] = []
    send = FakeSend()
    stream: list[Any] = ["a", "", "b", "c,d", "a", 7, None, "b", "c"]
    report = await broadcast(send, iter(stream), concurrency=1, on_event=events.append)
    assert send.calls == [(("a", "b", "c"), ())]
    assert [v for v, _ in report.rejected] == ["", "c,d", 7, None]
    assert [e.value for e in events if e.kind == "rejected"] == ["", "c,d", 7, None]


async def test_empty_stream_raises_without_sending() -> None:
    send = FakeSend()
    with pytest.raises(ValidationError):
        await broadcast(send, iter([]), concurrency=1)
    with pytest.raises(ValidationError):
        await broadcast(send, iter(["", "a,b"]), concurrency=1)
    assert send.calls == []


async def test_deadline_accounts_for_every_batch() -> None:
    send = FakeSend(delay=0.05)
    report = await broadcast(send, ids(5000), concurrency=2, timeout=0.12)
    assert report.timed_out and not report.complete and report.stopped_by is None
    assert report.task_ids and report.recipients < 5000
    assert_accounted(report)
    for batch in report.failed + report.unknown:
        assert isinstance(batch.error, BroadcastTimeoutError)
    # Cut off mid-request: those may have reached DingTalk.
    assert 0 < len(report.unknown) <= 2 and all(b.attempts == 1 for b in report.unknown)
    assert all(b.attempts == 0 for b in report.failed)
    assert len(report.task_ids) == len(send.calls)
    assert sorted(report.task_ids) == sorted(send.acknowledged.values())


async def test_cancellation_keeps_an_exact_report() -> None:
    send = FakeSend(delay=0.02)
    report = BroadcastReport()
    with anyio.move_on_after(0.1):
        await broadcast(send, ids(5000), concurrency=2, report=report)
    assert report.cancelled and not report.complete
    assert len(report.task_ids) == len(send.calls) > 0
    assert_accounted(report)
    for batch in report.failed + report.unknown:
        error = batch.error
        assert isinstance(error, BroadcastCancelledError)
        assert not isinstance(error, TimeoutError) and not error.retryable
    assert len(report.unknown) <= 2


async def test_resume_skips_acknowledged_batches() -> None:
    send = FakeSend()
    events: list[BroadcastEvent] = []
    report = await broadcast(send, ids(500), concurrency=2,
                             acknowledged={0: 77, 3: 88}, on_event=events.append)
    sent_first = sorted(c[0][0] for c in send.calls)
    assert sent_first == ["u000100", "u000200", "u000400"]
    assert report.batches[0].task_id == 77 and report.batches[3].task_id == 88
    assert report.batches[0].attempts == 0
    assert [e.batch.index for e in events if e.kind == "skipped" and e.batch] == [0, 3]
    assert report.complete and len(report.task_ids) == 5


async def test_rate_paces_calls() -> None:
    send = FakeSend()
    started = anyio.current_time()
    await broadcast(send, ids(1100), concurrency=4, rate=50)
    elapsed = anyio.current_time() - started
    # 11 calls at most 50 per second need at least 10 intervals.
    assert elapsed >= 10 / 50
    with pytest.raises(ValidationError):
        await broadcast(send, ids(10), rate=0)


async def test_failing_userid_iterator_lets_in_flight_batches_finish_first() -> None:
    def gen() -> Iterator[str]:
        yield from ids(350)
        raise RuntimeError("the database went away")

    send = FakeSend(delay=0.02)
    report = BroadcastReport()
    with pytest.raises(RuntimeError, match="database"):
        await broadcast(send, gen(), concurrency=4, report=report)
    assert not report.complete
    assert_accounted(report)
    assert report.task_ids == [send.acknowledged[b.index] for b in report.batches]
    assert {b.index for b in report.batches} == set(send.acknowledged)
    assert len(report.batches) == 3


async def test_failing_async_iterator_is_raised_after_in_flight_batches() -> None:
    async def agen() -> AsyncIterator[str]:
        for u in ids(250):
            yield u
        raise RuntimeError("stream broke")

    send = FakeSend(delay=0.02)
    report = BroadcastReport()
    with pytest.raises(RuntimeError, match="stream broke"):
        await broadcast(send, agen(), concurrency=4, report=report)
    assert_accounted(report)
    assert sorted(report.task_ids) == sorted(send.acknowledged.values())
    assert len(report.batches) == 2


async def test_monthly_quota_stops_the_broadcast_without_retry() -> None:
    exhausted = QuotaExhaustedError(90020, "monthly quota used up")
    send = FakeSend(plan={"u000300": [exhausted]})
    events: list[BroadcastEvent] = []
    report = await broadcast(send, ids(1000), concurrency=1, on_event=events.append)
    assert report.stopped_by is exhausted and not report.complete
    assert len(send.calls) == 4  # three acknowledged, the fourth answered 90020: no retry
    assert [b.state for b in report.batches] == ["acknowledged"] * 3 + ["failed"] * 7
    assert all(b.error is exhausted for b in report.failed)
    assert report.batches[3].attempts == 1 and report.retries == 0
    assert all(b.attempts == 0 for b in report.batches[4:])
    assert_accounted(report)
    assert [e.kind for e in events].count("failed") == 7


async def test_monthly_quota_with_concurrency_lets_in_flight_batches_end() -> None:
    exhausted = QuotaExhaustedError(90020, "monthly quota used up")
    send = FakeSend(plan={"u000000": [exhausted]}, delay=0.01)
    report = await broadcast(send, ids(3000), concurrency=4)
    assert report.stopped_by is exhausted
    assert_accounted(report)
    assert len(report.batches) == 30 and report.unknown == []
    assert len(report.acknowledged) == len(send.acknowledged) <= 3
    assert len(report.failed) == 30 - len(report.acknowledged)
    assert all(b.error is exhausted for b in report.failed)


@pytest.mark.parametrize(("errors", "state"), [
    ([RequestTimeoutError("timed out")] * 3, "unknown"),
    ([ConnectionFailedError("reset mid-answer")] * 3, "unknown"),
    ([ConnectionFailedError("refused", maybe_sent=False)] * 3, "failed"),
    ([RequestTimeoutError("timed out"), ServerError(503, "busy"), ServerError(503, "busy")],
     "unknown"),
    ([ServerError(503, "busy")] * 3, "failed"),
])
async def test_a_batch_that_may_have_been_sent_is_unknown(
    errors: list[Exception], state: str
) -> None:
    send = FakeSend(plan={"u000100": list(errors)})
    report = await broadcast(send, ids(300), concurrency=1)
    batch = report.batches[1]
    assert batch.state == state and batch.error is errors[-1] and batch.attempts == 3
    assert (batch in report.unknown) == (state == "unknown")
    assert (batch in report.failed) == (state == "failed")
    assert len(report.acknowledged) == 2 and report.complete


async def test_callback_errors_stop_the_run_and_are_raised() -> None:
    def explode(event: BroadcastEvent) -> None:
        if event.kind == "sent":
            raise KeyError("hook")

    send = FakeSend()
    with pytest.raises(KeyError):
        await broadcast(send, ids(1000), concurrency=1, on_event=explode)
    assert len(send.calls) == 1


# --- through the client: the same behaviour over MockTransport ---

async def test_client_broadcast_stops_on_monthly_quota(wire: Scripted) -> None:
    seen: list[MockRequest] = []

    def answer(request: MockRequest) -> MockResponse:
        seen.append(request)
        return err(90020, "quota") if len(seen) == 3 else ok(task_id=len(seen))

    wire.route(SEND, answer)
    async with client_with(wire) as c:
        report = await c.work_notice.broadcast(Text(content="x"), userids=ids(1000),
                                               concurrency=1)
    assert isinstance(report.stopped_by, dingnotify.QuotaExhaustedError)
    assert len(wire.sent(SEND)) == 3
    assert report.task_ids == [1, 2]
    assert len(report.failed) == 8 and all(b.error is report.stopped_by for b in report.failed)


async def test_client_broadcast_rejects_bad_recipients_before_sending(wire: Scripted) -> None:
    async with client_with(wire) as c:
        cases: list[dict[str, Any]] = [{"userids": ["u"], "dept_ids": [0]}, {"userids": "u1"},
                                       {"userids": []}, {"userids": ["u"], "to_all_user": True}]
        for kwargs in cases:
            with pytest.raises(ValidationError):
                await c.work_notice.broadcast(Text(content="x"), **kwargs)
    assert wire.sent() == []


async def test_client_broadcast_unknown_batch_after_timeouts(wire: Scripted) -> None:
    def answer(request: MockRequest) -> MockResponse:
        if request.json["userid_list"].startswith("u000100"):
            raise TimeoutError
        return ok(task_id=1)

    wire.route(SEND, answer)
    async with client_with(wire) as c:
        report = await c.work_notice.broadcast(Text(content="x"), userids=ids(300),
                                               concurrency=1)
    assert [b.state for b in report.batches] == ["acknowledged", "unknown", "acknowledged"]
    assert report.batches[1].attempts == 4 and report.retries == 3
    assert isinstance(report.batches[1].error, dingnotify.RequestTimeoutError)


async def test_client_broadcast_to_all_users_is_one_call(wire: Scripted) -> None:
    wire.route(SEND, ok(task_id=42))
    async with client_with(wire) as c:
        report = await c.work_notice.broadcast(Text(content="x"), to_all_user=True,
                                               concurrency=8)
    assert report.task_ids == [42] and report.complete and report.recipients == 0
    (request,) = wire.sent(SEND)
    assert request.json == {"agent_id": 123, "to_all_user": True,
                            "msg": {"msgtype": "text", "text": {"content": "x"}}}


# --- the recipients walk: checked once, joined once, the caller's str objects throughout ---

class JoinSeen(FakeSend):
    """Also records each batch's ``userid_list`` as ``send`` sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.joined: dict[int, str | None] = {}

    async def __call__(self, batch: Batch, on_attempt: AttemptHook, on_retry: RetryHook) -> int:
        self.joined[batch.index] = batch.userid_list
        return await super().__call__(batch, on_attempt, on_retry)


async def test_a_stream_batch_is_the_tuple_read_and_its_check_is_its_join() -> None:
    users = ids(250)
    send = JoinSeen()
    read: list[int] = []

    def stream() -> Iterator[str]:
        for n, u in enumerate(users):
            read.append(n)
            yield u

    report = await broadcast(send, stream(), concurrency=1)
    assert [b.userids for b in report.batches] == [tuple(users[i:i + 100])
                                                   for i in range(0, 250, 100)]
    # The caller's own str objects, never copies; the join is dropped once sent.
    assert all(a is b for a, b in zip((u for b in report.batches for u in b.userids), users,
                                      strict=True))
    assert send.joined == {i: ",".join(b.userids) for i, b in enumerate(report.batches)}
    assert all(b.userid_list is None for b in report.batches)
    assert read == list(range(250))


async def test_a_stream_is_read_only_as_far_as_the_next_batch_needs() -> None:
    """Batch 1 is 50 new ids of the second hundred read plus the next 50: 250 read when it
    is sent (before: read in hundreds, 300)."""
    consumed: list[int] = []
    raw = ids(100) + ids(50) + ids(300)[100:]

    def stream() -> Iterator[str]:
        for n, u in enumerate(raw):
            consumed.append(n)
            yield u

    seen_at_send: list[int] = []

    class Counting(FakeSend):
        async def __call__(self, batch: Batch, on_attempt: AttemptHook,
                           on_retry: RetryHook) -> int:
            seen_at_send.append(len(consumed))
            return await super().__call__(batch, on_attempt, on_retry)

    await broadcast(Counting(), stream(), concurrency=1)
    assert seen_at_send == [100, 250, 350]


@pytest.mark.parametrize("as_async", [False, True])
async def test_a_batch_filled_across_reads_keeps_order_and_joins_at_render(
        as_async: bool) -> None:
    """Duplicates and invalid entries make a batch take ids from several reads; it is then
    the exact plan, without the check's join (the body joins it)."""
    raw: list[Any] = [*ids(120), "", "u000005", *ids(90, "v"), 7, *ids(40, "v"), *ids(30, "w")]
    send = JoinSeen()

    async def agen() -> AsyncIterator[Any]:
        for u in raw:
            yield u

    report = await broadcast(send, agen() if as_async else iter(raw), concurrency=2)
    unique = list(dict.fromkeys(u for u in raw if isinstance(u, str) and u))
    assert [b.userids for b in report.batches] == [tuple(unique[i:i + 100])
                                                   for i in range(0, len(unique), 100)]
    assert [v for v, _ in report.rejected] == ["", 7]
    assert send.joined[0] == ",".join(unique[:100])  # one whole read: its check's join
    assert send.joined[1] is None  # 20 + 80 ids from two reads
    assert all(b.userid_list is None for b in report.batches)


async def test_a_collection_is_checked_whole_then_sliced() -> None:
    users = tuple(ids(230))
    send = JoinSeen()
    report = await broadcast(send, users + users[:50], concurrency=3)
    assert [b.userids for b in report.batches] == [users[:100], users[100:200], users[200:]]
    assert all(a is b for a, b in zip((u for b in report.batches for u in b.userids), users,
                                      strict=True))
    assert report.recipients == 230
    with pytest.raises(ValidationError, match="must be strings"):
        await broadcast(send, [*users, 7], concurrency=1)
    with pytest.raises(ValidationError, match="not one string"):
        await broadcast(send, "u000001", concurrency=1)  # type: ignore[arg-type]
    assert len(send.calls) == 3


async def test_skipped_and_stopped_batches_keep_no_join() -> None:
    send = FakeSend(plan={"u000100": [QuotaExhaustedError(90020, "quota")]})
    report = await broadcast(send, iter(ids(500)), concurrency=1,
                             acknowledged={0: 7})
    assert [b.state for b in report.batches] == ["acknowledged", "failed", "failed",
                                                 "failed", "failed"]
    assert all(b.userid_list is None for b in report.batches)
