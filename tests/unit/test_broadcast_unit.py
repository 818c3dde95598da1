"""Broadcast fan-out logic with a fake ``send``: batching, limits, retries, deadlines."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator, Sequence

import anyio
import pytest

from dingnotify import RateLimitedError, RetryPolicy, ServerBusyError, ValidationError
from dingnotify.broadcast import (
    BroadcastCancelledError,
    BroadcastEvent,
    BroadcastReport,
    BroadcastTimeoutError,
    run_broadcast,
)

FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002, jitter=False)


class FakeSend:
    """Records calls and in-flight concurrency; fails according to ``plan``."""

    def __init__(self, plan: dict[str, list[Exception]] | None = None, delay: float = 0.0):
        self.calls: list[tuple[tuple[str, ...], tuple[int, ...]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.plan = plan or {}
        self.delay = delay
        self.next_task = 1000

    async def __call__(self, userids: Sequence[bytes], dept_ids: Sequence[int]) -> int:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await anyio.sleep(self.delay)
            self.calls.append((tuple(u.decode() for u in userids), tuple(dept_ids)))
            errors = self.plan.get(userids[0].decode() if userids else "", [])
            if errors:
                raise errors.pop(0)
            self.next_task += 1
            return self.next_task
        finally:
            self.in_flight -= 1


def ids(n: int, prefix: str = "u") -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(n)]


async def test_exact_batches_for_userids_and_depts() -> None:
    users = ids(12_345)
    with_dups = users + users[:500] + users[100:200]
    depts = list(range(1, 46))
    send = FakeSend()
    report = await run_broadcast(send, with_dups, depts, concurrency=8, retry=FAST)
    assert len(send.calls) == max(math.ceil(12_345 / 100), math.ceil(45 / 20)) == 124
    assert all(len(u) <= 100 and len(d) <= 20 for u, d in send.calls)
    batches = report.batches
    assert [b.index for b in batches] == list(range(124))
    assert [u for b in batches for u in b.userids] == users
    assert [d for b in batches for d in b.dept_ids] == depts
    assert batches[0].dept_ids == tuple(range(1, 21)) and batches[3].dept_ids == ()
    assert sorted(report.task_ids) == list(range(1001, 1125))
    assert report.failed == [] and report.complete and report.recipients == 12_345
    assert send.max_in_flight <= 8


async def test_more_dept_batches_than_user_batches() -> None:
    send = FakeSend()
    report = await run_broadcast(send, ids(150), list(range(1, 101)), concurrency=4, retry=FAST)
    assert len(send.calls) == 5
    assert [len(b.raw_userids) for b in report.batches] == [100, 50, 0, 0, 0]
    assert [len(b.dept_ids) for b in report.batches] == [20] * 5


async def test_generator_and_async_iterator_inputs() -> None:
    def gen() -> Iterator[str]:
        yield from ids(250)
        yield from ids(10)

    async def agen() -> AsyncIterator[str]:
        for u in ids(250):
            yield u

    for source in (gen(), agen()):
        send = FakeSend()
        report = await run_broadcast(send, source, concurrency=3, retry=FAST)
        assert [len(c[0]) for c in send.calls] == [100, 100, 50]
        assert report.recipients == 250


async def test_concurrency_bound_is_respected() -> None:
    send = FakeSend(delay=0.005)
    await run_broadcast(send, ids(3000), concurrency=5, retry=FAST)
    assert send.max_in_flight == 5


async def test_failing_batch_does_not_cancel_the_others() -> None:
    boom = ServerBusyError(-1, "busy")
    send = FakeSend(plan={"u000200": [boom, boom, boom]})
    events: list[BroadcastEvent] = []
    report = await run_broadcast(send, ids(1000), concurrency=1, retry=FAST,
                                 on_event=events.append)
    assert len(report.failed) == 1
    failed = report.failed[0]
    assert failed.error is boom and failed.task_id is None and failed.attempts == 3
    assert len(report.task_ids) == 9
    kinds = [e.kind for e in events]
    assert kinds.count("sent") == 9 and kinds.count("failed") == 1 and kinds.count("retry") == 2
    covered = {u for b in report.batches for u in b.userids}
    assert covered == set(ids(1000))


async def test_rate_limited_batches_are_retried_beyond_the_attempt_budget() -> None:
    limited = [RateLimitedError(90018, "qps") for _ in range(2)]
    send = FakeSend(plan={"u000000": limited})
    report = await run_broadcast(send, ids(100), concurrency=1,
                                 retry=RetryPolicy(max_attempts=2, base_delay=0.001,
                                                   max_delay=0.001, jitter=False))
    assert report.failed == [] and len(report.task_ids) == 1
    assert report.rate_limited == 2 and report.batches[0].attempts == 3


async def test_invalid_ids_in_a_list_raise_before_sending() -> None:
    send = FakeSend()
    for bad in (["ok", ""], ["a,b"], ["ok", 7], ['x"y'], "u1,u2"):
        with pytest.raises(ValidationError):
            await run_broadcast(send, bad, concurrency=1, retry=FAST)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await run_broadcast(send, [], concurrency=1, retry=FAST)
    with pytest.raises(ValidationError):
        await run_broadcast(send, ["u"], [0], concurrency=1, retry=FAST)
    assert send.calls == []


async def test_invalid_ids_in_a_stream_are_reported_not_sent() -> None:
    events: list[BroadcastEvent] = []
    send = FakeSend()
    report = await run_broadcast(send, iter(["a", "", "b", "c,d", "a"]), concurrency=1,
                                 retry=FAST, on_event=events.append)
    assert send.calls == [(("a", "b"), ())]
    assert [v for v, _ in report.rejected] == ["", "c,d"]
    assert [e.value for e in events if e.kind == "rejected"] == ["", "c,d"]


async def test_empty_stream_raises_without_sending() -> None:
    send = FakeSend()
    with pytest.raises(ValidationError):
        await run_broadcast(send, iter([]), concurrency=1, retry=FAST)
    assert send.calls == []


async def test_deadline_marks_unacknowledged_batches_failed() -> None:
    send = FakeSend(delay=0.05)
    report = await run_broadcast(send, ids(5000), concurrency=2, retry=FAST, timeout=0.12)
    assert report.timed_out and not report.complete
    assert report.task_ids and report.failed
    assert all(isinstance(b.error, BroadcastTimeoutError) for b in report.failed)
    assert len(report.task_ids) + len(report.failed) == len(report.batches)
    assert len(report.task_ids) == len(send.calls)


async def test_cancellation_keeps_an_exact_report() -> None:
    send = FakeSend(delay=0.02)
    report = BroadcastReport()
    with anyio.move_on_after(0.1):
        await run_broadcast(send, ids(5000), concurrency=2, retry=FAST, report=report)
    assert report.cancelled and not report.complete
    assert len(report.task_ids) == len(send.calls) > 0
    assert all(isinstance(b.error, BroadcastCancelledError) for b in report.failed)
    assert len(report.task_ids) + len(report.failed) == len(report.batches)


async def test_resume_skips_acknowledged_batches() -> None:
    send = FakeSend()
    events: list[BroadcastEvent] = []
    report = await run_broadcast(send, ids(500), concurrency=2, retry=FAST,
                                 acknowledged={0: 77, 3: 88}, on_event=events.append)
    sent_first = sorted(c[0][0] for c in send.calls)
    assert sent_first == ["u000100", "u000200", "u000400"]
    assert report.batches[0].task_id == 77 and report.batches[3].task_id == 88
    assert [e.batch.index for e in events if e.kind == "skipped" and e.batch] == [0, 3]


async def test_rate_paces_calls() -> None:
    send = FakeSend()
    started = anyio.current_time()
    await run_broadcast(send, ids(1100), concurrency=4, retry=FAST, rate=50)
    elapsed = anyio.current_time() - started
    # 11 calls at <= 49 per second (2 % headroom) need at least 10 intervals.
    assert elapsed >= 10 / 50
