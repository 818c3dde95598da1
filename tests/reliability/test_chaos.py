"""Chaos broadcast (issue 8): 20,000 userids through seeded 5xx, drops, timeouts, 90018 and a
token revocation. Every batch ends acknowledged or failed with its cause, and the emulator's
inboxes agree with the report, ambiguous timeouts accounted for explicitly."""

from __future__ import annotations

import time
from collections import Counter

import anyio
import pytest

from dingnotify import (
    Batch,
    BroadcastEvent,
    DingTalkClient,
    Quota,
    RequestTimeoutError,
    RetryPolicy,
    Text,
)
from dingnotify.testing import Emulator, Fault, FaultPlan, Org, RateLimits

SEND = "/topapi/message/corpconversation/asyncsend_v2"
N_USERS = 20_000
REVOKE_AFTER = 100  # acknowledged batches before the token is revoked
BURST = (40, 60)  # acknowledged batches between which the server allows only 8 QPS
# The call limits bind; recipients are uncapped so 20,000 userids need not take 4 minutes.
LIMITS = RateLimits(qps=40, per_minute=1500)
QUOTA = Quota(qps=40, recipients_per_minute=100_000)


def chaos_plan(seed: int) -> FaultPlan:
    return FaultPlan(seed=seed, rules=[
        Fault(path=SEND, kind="http_500", probability=0.04),
        Fault(path=SEND, kind="http_502", probability=0.03),
        Fault(path=SEND, kind="http_503", probability=0.03),
        Fault(path=SEND, kind="drop", probability=0.03),
        Fault(path=SEND, kind="delay", probability=0.01, delay=1.0),
        Fault(path=SEND, kind="delay", probability=0.01, delay=1.0, after_accept=True),
        Fault(path=SEND, kind="errcode_90018", probability=0.03),
    ])


@pytest.mark.slow
async def test_chaos_broadcast_20000_userids() -> None:
    org = Org.synthetic(n_users=N_USERS, seed=1)
    users = list(org.users)
    message = Text(content="chaos drill")
    timeouts: dict[int, int] = Counter()  # batch index -> attempts that timed out
    causes: Counter[str] = Counter()
    revoked: list[int] = []

    async with Emulator(org=org, profile=LIMITS, faults=chaos_plan(seed=2024)) as emu:
        app = emu.app

        def on_event(event: BroadcastEvent) -> None:
            assert event.batch is not None
            if isinstance(event.error, RequestTimeoutError):
                timeouts[event.batch.index] += 1
            if event.kind == "retry":
                causes[type(event.error).__name__] += 1
            if event.kind != "sent":
                return
            acknowledged = len(event.report.task_ids)
            if acknowledged == BURST[0]:
                emu.limits = RateLimits(qps=8)  # a 90018 storm from the server's limiter
            elif acknowledged == BURST[1]:
                emu.limits = LIMITS
            elif acknowledged == REVOKE_AFTER:
                emu.revoke_tokens()
                revoked.append(emu.count(SEND))

        started = time.monotonic()
        async with DingTalkClient(app.app_key, app.app_secret, agent_id=app.agent_id,
                                  base_url=emu.url, timeout=0.5, quota=QUOTA) as client:
            with anyio.fail_after(120):
                report = await client.work_notice.broadcast(
                    message, userids=users, concurrency=16, on_event=on_event,
                    retry=RetryPolicy(max_attempts=2, base_delay=0.05, max_delay=0.2))
        elapsed = time.monotonic() - started
        await emu.drain()  # every delayed handler has finished: the inboxes are final

        batches = report.batches
        acked, failed, unknown = report.acknowledged, report.failed, report.unknown
        print(f"\nchaos: {len(batches)} batches, {report.retries} retries "
              f"({report.rate_limited} rate-limited), {len(acked)} acknowledged, "
              f"{len(failed)} failed, {len(unknown)} unknown, {emu.duplicates_dropped} "
              f"duplicates dropped by the emulator, faults {dict(emu.faults_injected)}, "
              f"90018 from the limiter {emu.throttled[90018]}, retry causes {dict(causes)}, "
              f"gettoken {emu.count('/gettoken')}, {elapsed:.1f}s")
        for batch in failed + unknown:
            print(f"  {batch.state} batch {batch.index}: "
                  f"{type(batch.error).__name__}: {batch.error}")

        # Every batch ends acknowledged, failed or unknown with its cause, and covers the
        # input once.
        assert report.complete and len(batches) == N_USERS // 100
        assert len(acked) + len(failed) + len(unknown) == len(batches)
        assert all(b.error is not None for b in failed + unknown)
        assert [u for b in batches for u in b.userids] == users
        assert report.recipients == N_USERS
        assert revoked and emu.faults_injected["drop"] > 0 and emu.faults_injected["delay"] > 0
        assert emu.throttled[90018] > 0 and (failed or unknown)
        assert emu.count("/gettoken") == 2  # the revocation cost exactly one refresh

        _check_inboxes(emu, batches, timeouts, message)


def _check_inboxes(emu: Emulator, batches: list[Batch], timeouts: dict[int, int],
                   message: Text) -> None:
    wire = {"msgtype": "text", "text": {"content": message.content}}
    owner = {u: b for b in batches for u in b.userids}
    acked_ids = {b.task_id for b in batches if b.task_id is not None}
    ambiguous = {b.index for b in batches if timeouts.get(b.index)}
    for task in emu.tasks.values():
        batch = owner[next(iter(task.userids))]
        assert list(task.userids) == list(batch.userids)  # no task mixes batches
        # A task nobody acknowledged comes only from an attempt that timed out after the
        # server took it: never from a batch the report calls clean.
        assert task.task_id in acked_ids or batch.index in ambiguous
    for batch in batches:
        counts = {len(emu.inboxes.get(u, ())) for u in batch.userids}
        if batch.task_id is not None:
            assert counts == {1}, f"acknowledged batch {batch.index}: inbox counts {counts}"
            task = emu.tasks[batch.task_id]
            assert set(task.delivered) | task.forbidden == set(batch.userids)
        elif batch.index in ambiguous:
            assert counts <= {0, 1}  # accepted or not: never twice
        else:
            assert counts == {0}, f"failed batch {batch.index} was delivered"
    assert all(m.msg == wire for box in emu.inboxes.values() for m in box)
