"""``wait``: confirming tasks with as few calls as DingTalk allows, and its timeout."""

from __future__ import annotations

import pytest

import dingnotify
from dingnotify import DeliveryTimeoutError, Text
from dingnotify.testing import MockRequest, MockResponse
from tests.conftest import PROGRESS, RECALL, RESULT, SEND, Scripted, client_with, err, ok


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
