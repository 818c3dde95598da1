"""Broadcast against the emulator: exact fan-out, limits, faults, merged results."""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Iterator

import pytest

from dingnotify import Quota, RetryPolicy, Text
from dingnotify.testing import Emulator, Fault, FaultPlan, Org, RateLimits
from tests.emulated import client_for

SEND = "/topapi/message/corpconversation/asyncsend_v2"
PROGRESS = "/topapi/message/corpconversation/getsendprogress"
RESULT = "/topapi/message/corpconversation/getsendresult"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)




def split(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v for v in str(value or "").split(",") if v]


async def test_exact_fanout_12345_userids_45_depts() -> None:
    org = Org.synthetic(n_users=13_000, depts=80)
    users = list(org.users)[:12_345]
    depts = sorted(d for d in org.depts if d != 1)[:45]
    async with Emulator(org=org) as emu, client_for(emu) as client:
        report = await client.work_notice.broadcast(
            Text(content="fan-out"), userids=users + users[:700] + users[5000:5100],
            dept_ids=depts + depts[:3], concurrency=8)
        sends = [r for r in emu.requests if r.path == SEND]
        assert len(sends) == 124 == max(-(-12_345 // 100), -(-45 // 20))
        bodies = [r.json for r in sends]
        sent_users = [u for b in bodies for u in split(b.get("userid_list"))]
        sent_depts = [int(d) for b in bodies for d in split(b.get("dept_id_list"))]
        assert all(len(split(b.get("userid_list"))) <= 100 for b in bodies)
        assert all(len(split(b.get("dept_id_list"))) <= 20 for b in bodies)
        assert sorted(sent_users) == sorted(users)  # every recipient exactly once
        assert sorted(sent_depts) == sorted(depts)
        assert [u for b in report.batches for u in b.userids] == users  # consecutive, in order
        assert report.failed == [] and len(report.task_ids) == 124
        assert set(report.task_ids) == set(emu.tasks)
        assert emu.max_in_flight_by_path[SEND] <= 8
        assert emu.count("/gettoken") == 1


@pytest.mark.slow
async def test_million_userid_generator_has_bounded_memory() -> None:
    def stream() -> Iterator[str]:
        for i in range(1_000_000):
            yield f"user{i:07d}"

    async with Emulator(org=Org.synthetic(n_users=10), lean=True) as emu, \
            client_for(emu) as client:
        gc.collect()
        tracemalloc.start()
        try:
            report = await client.work_notice.broadcast(Text(content="m"), userids=stream(),
                                                        concurrency=32)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(report.task_ids) == 10_000 and not report.failed
        assert report.recipients == 1_000_000
        # Request bodies for all 10,000 calls alone would be ~1 GB of Python objects. The
        # peak (~139 MiB) is the ids themselves (57 MiB), the report's tuples of them (8),
        # the de-dup set's table (32) and this in-process emulator's own records (~36);
        # tests/reliability/test_recipients_memory.py measures the SDK alone.
        assert peak < 150 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
        print(f"\n1,000,000-userid broadcast: tracemalloc peak {peak / 2**20:.0f} MiB")


async def test_throttling_storms_and_5xx_still_acknowledge_everything() -> None:
    org = Org.synthetic(n_users=3_000)
    faults = FaultPlan(seed=7, rules=[
        Fault(path=SEND, kind="errcode_90018", probability=0.2),
        Fault(path=SEND, kind="http_503", probability=0.1),
        Fault(path=SEND, kind="http_500", probability=0.05),
    ])
    async with Emulator(org=org, faults=faults) as emu, client_for(emu, retry=FAST) as client:
        report = await client.work_notice.broadcast(Text(content="storm"), userids=list(org.users),
                                                    concurrency=8)
        assert report.failed == [] and len(report.task_ids) == 30
        assert report.retries > 0 and report.rate_limited > 0
        assert emu.faults_injected["errcode_90018"] > 0
        assert len(emu.tasks) == 30
        assert all(len(box) == 1 for box in emu.inboxes.values())


async def test_permanent_failure_is_reported_and_the_rest_deliver() -> None:
    org = Org.synthetic(n_users=500)
    users = list(org.users)
    plan = FaultPlan(script={SEND: ["ok", "ok", "http_500", "http_500", "http_500", "http_500"]})
    async with Emulator(org=org, faults=plan) as emu, client_for(emu, retry=FAST) as client:
        report = await client.work_notice.broadcast(Text(content="partial"), userids=users,
                                                    concurrency=1)
        assert [b.index for b in report.failed] == [2]
        failed = report.failed[0]
        assert failed.task_id is None and failed.attempts == 4
        assert getattr(failed.error, "status", None) == 500
        assert len(report.task_ids) == 4
        lost = set(failed.userids)
        assert lost == set(users[200:300])
        assert all(not emu.inboxes.get(u) for u in lost)
        assert all(len(emu.inboxes[u]) == 1 for u in users if u not in lost)


async def test_wait_merges_results_that_match_the_inboxes() -> None:
    org = Org.synthetic(n_users=300)
    users = list(org.users)
    ghosts = ["ghost-1", "ghost-2"]
    message = Text(content="same content twice")
    async with Emulator(org=org, read_ratio=0.5, progress_seconds=0.2) as emu, \
            client_for(emu) as client:
        early = await client.work_notice.send(message, userids=users[:20])
        report = await client.work_notice.broadcast(message, userids=users[:250] + ghosts,
                                                    concurrency=4)
        result = await client.work_notice.wait(report.task_ids, poll_interval=0.05, timeout=10)
        assert sorted(result.invalid_userids) == ghosts
        assert set(result.forbidden_userids) == set(users[:20])  # same content, same day
        assert {f.userid for f in result.forbidden} == set(users[:20])
        got_it = {u for u, box in emu.inboxes.items()
                  if any(m.task_id in report.task_ids for m in box)}
        assert got_it == set(users[20:250])
        assert set(result.read_userids) | set(result.unread_userids) == got_it
        assert not set(result.read_userids) & set(result.unread_userids)
        assert 0 < len(result.read_userids) < len(got_it)
        assert early not in report.task_ids
        recalled = await client.work_notice.recall_all(report.task_ids)
        assert recalled == {}
        assert all(not any(m.task_id in report.task_ids for m in emu.inboxes.get(u, []))
                   for u in users)


async def test_to_all_user_is_one_call() -> None:
    async with Emulator(org=Org.synthetic(n_users=120)) as emu, client_for(emu) as client:
        report = await client.work_notice.broadcast(Text(content="everyone"), to_all_user=True)
        sends = [r for r in emu.requests if r.path == SEND]
        assert len(sends) == 1 and json.loads(sends[0].body)["to_all_user"] is True
        assert len(report.task_ids) == 1
        assert sum(1 for box in emu.inboxes.values() if box) == 120


async def test_wait_confirms_within_the_qps_limit_at_about_one_call_per_task() -> None:
    """Polls draw on the same governor as sends: 60 tasks confirmed with 0 x 90018, and a
    userid-only task costs one getsendresult (target: <= 1.1 calls per task)."""
    org = Org.synthetic(n_users=6_000)
    limits = RateLimits(qps=40, per_minute=1500)  # recipients uncapped: the call limits bind
    quota = Quota(qps=40, recipients_per_minute=100_000)
    async with Emulator(org=org, profile=limits) as emu, \
            client_for(emu, retry=RetryPolicy(max_attempts=1), quota=quota) as client:
        report = await client.work_notice.broadcast(Text(content="q"), userids=list(org.users))
        result = await client.work_notice.wait(report, poll_interval=0.1, timeout=30)
        assert len(result.unread_userids) == 6_000
        polls = emu.count(RESULT) + emu.count(PROGRESS)
        assert polls <= 1.1 * len(report.task_ids)
        assert emu.throttled[90018] == 0 and emu.throttled[90006] == 0
        failures = await client.work_notice.recall_all(report.task_ids)
        assert failures == {}
        assert emu.throttled[90018] == 0
