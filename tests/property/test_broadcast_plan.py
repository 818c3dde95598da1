"""A broadcast sends exactly the batches ``plan_batches`` plans over the de-duplicated input,
whether the userids come as a list or as a stream, whatever the concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from dingnotify import BroadcastReport, DingTalkClient, Text, plan_batches
from dingnotify.testing import MockRequest, MockResponse, MockTransport

Sent = tuple[tuple[str, ...], tuple[int, ...]]


def run(userids: list[str] | Iterator[str], dept_ids: list[int],
        concurrency: int) -> tuple[list[Sent], BroadcastReport]:
    sent: list[Sent] = []

    def handler(request: MockRequest) -> MockResponse:
        if request.url.path == "/gettoken":
            return MockResponse(json={"errcode": 0, "access_token": "t", "expires_in": 7200})
        body: dict[str, Any] = request.json
        users = body.get("userid_list", "")
        depts = body.get("dept_id_list", "")
        sent.append((tuple(users.split(",")) if users else (),
                     tuple(int(d) for d in depts.split(",")) if depts else ()))
        return MockResponse(json={"errcode": 0, "task_id": len(sent)})

    async def go() -> BroadcastReport:
        async with DingTalkClient("k", "s", agent_id=1, base_url="http://oapi.test",
                                  transport=MockTransport(handler), quota=None) as client:
            return await client.work_notice.broadcast(
                Text(content="x"), userids=userids, dept_ids=dept_ids, concurrency=concurrency)

    return sent, asyncio.run(go())


@example([f"u{i % 370}" for i in range(1000)], list(range(1, 71)), 4, False)
@example([f"u{i % 370}" for i in range(1000)], list(range(1, 71)), 1, True)
@example([f"u{i}" for i in range(100)], [], 3, True)
@example([], list(range(1, 41)), 2, False)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 400).map(lambda i: f"u{i}"), max_size=600),
       st.lists(st.integers(1, 90), max_size=70),
       st.integers(1, 8), st.booleans())
def test_broadcast_batches_are_the_plan(
    userids: list[str], dept_ids: list[int], concurrency: int, stream: bool
) -> None:
    unique_users = list(dict.fromkeys(userids))
    unique_depts = list(dict.fromkeys(dept_ids))
    assume(unique_users or unique_depts)
    plan = [(b.userids, b.dept_ids) for b in plan_batches(unique_users, unique_depts)]
    sent, report = run(iter(userids) if stream else userids, dept_ids, concurrency)
    assert [(b.userids, b.dept_ids) for b in report.batches] == plan
    assert [b.index for b in report.batches] == list(range(len(plan)))
    assert sorted(sent) == sorted(plan)
    if concurrency == 1:
        assert sent == plan
    assert report.complete and report.recipients == len(unique_users)
    assert sorted(report.task_ids) == list(range(1, len(plan) + 1))
