"""``wait``: confirming tasks with as few calls as DingTalk allows, its timeout, what it
keeps when a poll fails, and ``to_all_user`` refused with any userids."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import pytest

import dingnotify
from dingnotify import DeliveryTimeoutError, SendResult, Text
from dingnotify.testing import MockRequest, MockResponse
from tests.conftest import (
    PROGRESS,
    RECALL,
    RESULT,
    SEND,
    Answer,
    Reply,
    Scripted,
    client_with,
    err,
    ok,
)


def ids(n: int) -> list[str]:
    return [f"u{i:06d}" for i in range(n)]


def sent_userids(wire: Scripted) -> dict[int, list[str]]:
    """task_id -> the userids its asyncsend_v2 request carried (task ids count from 1)."""
    return {n: r.json["userid_list"].split(",")
            for n, r in enumerate(wire.sent(SEND), 1)}


def send_in_order(wire: Scripted) -> None:
    count = [0]

    def answer(request: MockRequest) -> MockResponse:
        count[0] += 1
        return ok(task_id=count[0])

    wire.route(SEND, answer)


async def test_userid_only_tasks_are_confirmed_from_the_result_alone(wire: Scripted) -> None:
    send_in_order(wire)

    def result(request: MockRequest) -> MockResponse:
        users = sent_userids(wire)[request.json["task_id"]]
        return ok(send_result={"read_user_id_list": users[:10],
                               "unread_user_id_list": users[10:]})

    wire.route(RESULT, result)
    async with client_with(wire) as c:
        report = await c.work_notice.broadcast(Text(content="x"), userids=ids(1000))
        merged = await c.work_notice.wait(report, poll_interval=0.001)
    assert len(wire.sent(RESULT)) == 10 and wire.sent(PROGRESS) == []
    assert sorted(merged.read_userids + merged.unread_userids) == ids(1000)
    assert len(merged.read_userids) == 100


async def test_incomplete_results_and_bare_task_ids_fall_back_to_progress(
    wire: Scripted,
) -> None:
    polls = [0]

    def progress(request: MockRequest) -> MockResponse:
        polls[0] += 1
        return ok(progress={"progress_in_percent": 50 if polls[0] < 3 else 100,
                            "status": 1 if polls[0] < 3 else 2})

    wire.route(PROGRESS, progress)
    wire.route(RESULT, ok(send_result={"read_user_id_list": ["a"]}))
    async with client_with(wire) as c:
        merged = await c.work_notice.wait([7], poll_interval=0.001)
    assert merged.read_userids == ["a"]
    assert len(wire.sent(PROGRESS)) == 3 and len(wire.sent(RESULT)) == 1
    assert all(r.json == {"agent_id": 123, "task_id": 7} for r in wire.sent(PROGRESS))


async def test_wait_times_out_listing_unfinished_tasks(wire: Scripted) -> None:
    wire.route(PROGRESS, ok(progress={"progress_in_percent": 10, "status": 1}))
    async with client_with(wire) as c:
        with pytest.raises(DeliveryTimeoutError) as info:
            await c.work_notice.wait([5, 6, 5], poll_interval=0.01, timeout=0.1)
    error = info.value
    assert isinstance(error, TimeoutError) and not error.retryable
    assert error.pending == [5, 6]
    assert wire.sent(RESULT) == []


async def test_wait_raises_the_first_real_error(wire: Scripted) -> None:
    wire.route(PROGRESS, err(60011, "no scope"))
    async with client_with(wire) as c:
        with pytest.raises(dingnotify.PermissionDeniedError):
            await c.work_notice.wait([1, 2, 3], poll_interval=0.001)


async def test_wait_refuses_bad_arguments_before_any_call(wire: Scripted) -> None:
    async with client_with(wire) as c:
        for kwargs in ({"poll_interval": -1}, {"timeout": 0}, {"concurrency": 0}):
            with pytest.raises(dingnotify.ValidationError):
                await c.work_notice.wait([1], **kwargs)  # type: ignore[arg-type]
        with pytest.raises(dingnotify.ValidationError):
            await c.work_notice.wait([0])
    assert wire.sent() == []


async def test_recall_all_reports_each_failure(wire: Scripted) -> None:
    def recall(request: MockRequest) -> MockResponse:
        return err(22, "no such task") if request.json["msg_task_id"] == 2 else ok()

    wire.route(RECALL, recall)
    async with client_with(wire) as c:
        failures = await c.work_notice.recall_all([1, 2, 3, 1])
    assert list(failures) == [2] and isinstance(failures[2], dingnotify.NotFoundError)
    assert sorted(r.json["msg_task_id"] for r in wire.sent(RECALL)) == [1, 2, 3]


def done_progress() -> MockResponse:
    return ok(progress={"progress_in_percent": 100, "status": 2})


def by_task(answers: dict[int, Answer]) -> Callable[[MockRequest], Reply]:
    """One answer per task id (a function of the request, or a fixed response)."""

    def answer(request: MockRequest) -> Reply:
        chosen = answers[request.json["task_id"]]
        return chosen(request) if callable(chosen) else chosen  # type: ignore[return-value]

    return answer


async def test_a_poll_failing_after_its_retries_is_tried_again_and_counted(
    wire: Scripted,
) -> None:
    """A 503 longer than the retry budget (4 attempts) costs one poll, not the wait."""
    wire.route(PROGRESS, *[MockResponse(status=503)] * 4, done_progress())
    wire.route(RESULT, ok(send_result={"read_user_id_list": ["a"]}))
    seen: list[tuple[int, type[BaseException]]] = []
    async with client_with(wire) as c:
        merged = await c.work_notice.wait(
            [7], poll_interval=0.001, on_poll_error=lambda t, e: seen.append((t, type(e))))
    assert merged.read_userids == ["a"] and merged.poll_errors == 1
    assert seen == [(7, dingnotify.ServerError)]
    assert len(wire.sent(PROGRESS)) == 5 and len(wire.sent(RESULT)) == 1


async def test_a_rate_limited_poll_waits_its_pause_before_the_next(wire: Scripted) -> None:
    """90018 closes the API for a second: the task's next poll comes no sooner."""
    stamps: list[float] = []

    def result(request: MockRequest) -> MockResponse:
        stamps.append(time.monotonic())
        if len(stamps) == 1:
            return err(90018, "qps")
        return ok(send_result={"read_user_id_list": ["u1"]})

    send_in_order(wire)
    wire.route(RESULT, result)
    once = dingnotify.RetryPolicy(max_attempts=1, rate_limit_attempts=1)
    async with client_with(wire) as c:
        report = await c.work_notice.broadcast(Text(content="x"), userids=["u1"])
        merged = await c.work_notice.wait(report, poll_interval=0.001, retry=once)
    assert merged.read_userids == ["u1"] and merged.poll_errors == 1
    assert len(stamps) == 2 and stamps[1] - stamps[0] >= 1.0 - 0.01
    assert wire.sent(PROGRESS) == []  # the result alone still settles the task


async def test_a_fatal_poll_raises_at_once_with_what_was_confirmed(wire: Scripted) -> None:
    async def denied(request: MockRequest) -> MockResponse:
        await anyio.sleep(0.05)  # tasks 1 and 2 are confirmed meanwhile
        return err(60011, "no scope")

    wire.route(PROGRESS, by_task({1: done_progress(), 2: done_progress(), 3: denied}))
    wire.route(RESULT, by_task({1: ok(send_result={"read_user_id_list": ["a"]}),
                                2: ok(send_result={"unread_user_id_list": ["b"]})}))
    async with client_with(wire) as c:
        with pytest.raises(dingnotify.PermissionDeniedError) as info:
            await c.work_notice.wait([1, 2, 3], poll_interval=0.001)
    partial = info.value.partial_result
    assert isinstance(partial, SendResult)
    assert (partial.read_userids, partial.unread_userids) == (["a"], ["b"])
    assert len(wire.sent(PROGRESS)) == 3  # refused once, not retried


async def test_nothing_confirmed_means_no_partial_result(wire: Scripted) -> None:
    wire.route(PROGRESS, err(40089, "bad secret"))
    async with client_with(wire) as c:
        with pytest.raises(dingnotify.CredentialsError) as info:
            await c.work_notice.wait([1, 2], poll_interval=0.001)
    assert info.value.partial_result is None
    assert dingnotify.DingNotifyError("x").partial_result is None


async def test_a_timeout_keeps_what_was_confirmed_and_counts_failed_polls(
    wire: Scripted,
) -> None:
    """Task 6's polls fail until the timeout; task 5's result survives it."""
    wire.route(PROGRESS, by_task({5: done_progress(), 6: MockResponse(status=502)}))
    wire.route(RESULT, by_task({5: ok(send_result={"read_user_id_list": ["a"]})}))
    async with client_with(wire) as c:
        with pytest.raises(DeliveryTimeoutError) as info:
            await c.work_notice.wait([5, 6], poll_interval=0.01, timeout=0.3)
    error = info.value
    assert error.pending == [6] and "poll(s) failed, the last: ServerError" in str(error)
    assert isinstance(error.partial_result, SendResult)
    assert error.partial_result.read_userids == ["a"]
    assert error.partial_result.poll_errors >= 1


async def test_a_resend_rounds_failed_wait_keeps_every_round(wire: Scripted) -> None:
    """Round 1 confirmed a read and a throttled user; the re-send's wait is refused: the
    partial result keeps the read one, and the re-sent one is no longer 'throttled'."""
    send_in_order(wire)
    wire.route(RESULT, by_task({
        1: ok(send_result={"read_user_id_list": ["u1"], "forbidden_list": [
            {"code": "41047", "count": 5000, "userid": "u2"}]}),
        2: err(60011, "no scope")}))
    async with client_with(wire) as c:
        with pytest.raises(dingnotify.PermissionDeniedError) as info:
            await c.work_notice.deliver(Text(content="x"), userids=["u1", "u2"],
                                        resend_delay=0, poll_interval=0.001)
    partial = info.value.partial_result
    assert isinstance(partial, SendResult)
    assert partial.read_userids == ["u1"] and partial.throttled_userids == []
    assert [r.json["userid_list"] for r in wire.sent(SEND)] == ["u1,u2", "u2"]


def users_stream() -> Iterator[str]:
    yield from ()


async def users_async() -> AsyncIterator[str]:
    for userid in ("u1",):
        yield userid


@pytest.mark.parametrize("userids", [["u1"], {"u1"}, "generator", "async", "empty generator"])
async def test_to_all_user_with_userids_of_any_kind_is_refused(
    wire: Scripted, userids: object
) -> None:
    """A generator cannot be seen to be empty without reading it: refused too."""
    kinds = {"generator": lambda: (u for u in ["u1"]), "async": users_async,
             "empty generator": users_stream}
    async with client_with(wire) as c:
        wn = c.work_notice
        calls = [wn.broadcast, wn.deliver] + ([] if userids == "async" else [wn.send])
        for call in calls:  # send takes no async iterator
            given = kinds[userids]() if isinstance(userids, str) else userids
            with pytest.raises(dingnotify.ValidationError, match="to_all_user"):
                await call(Text(content="x"), userids=given, to_all_user=True)  # type: ignore[operator]
    assert wire.sent() == []


async def test_to_all_user_alone_still_sends_once(wire: Scripted) -> None:
    send_in_order(wire)
    async with client_with(wire) as c:
        report = await c.work_notice.broadcast(Text(content="x"), to_all_user=True)
    assert report.task_ids == [1]
    assert wire.sent(SEND)[0].json["to_all_user"] is True
