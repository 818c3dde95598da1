"""Ambiguous failures (issue 8): a send that timed out after the server accepted it is
retried; DingTalk's same-content rule drops the repeat and nobody is notified twice."""

from __future__ import annotations

from dingnotify import DingTalkClient, RequestTimeoutError, RetryPolicy, Text
from dingnotify.broadcast import BroadcastEvent
from dingnotify.testing import Emulator, Fault, FaultPlan, Org

SEND = "/topapi/message/corpconversation/asyncsend_v2"
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)


async def test_timeout_after_accept_is_retried_and_the_repeat_dropped() -> None:
    late = Fault(path=SEND, kind="delay", delay=1.0, after_accept=True)
    plan = FaultPlan(script={SEND: ["ok", late, "ok"]})
    users = [f"u{i:06d}" for i in range(1, 301)]
    events: list[BroadcastEvent] = []
    async with Emulator(org=Org.synthetic(n_users=300), faults=plan) as emu:
        app = emu.app
        async with DingTalkClient(app.app_key, app.app_secret, agent_id=app.agent_id,
                                  base_url=emu.url, timeout=0.3, retry=FAST) as client:
            report = await client.work_notice.broadcast(
                Text(content="once only"), userids=users, concurrency=1, on_event=events.append)

            assert [e.kind for e in events] == ["sent", "retry", "sent", "sent"]
            assert isinstance(events[1].error, RequestTimeoutError)
            ambiguous = report.batches[1]
            assert ambiguous.attempts == 2 and ambiguous.task_id is not None
            # The first attempt created a task the client never heard of; the retry's task
            # found every recipient already notified today with this content.
            assert len(emu.tasks) == 4 and emu.duplicates_dropped == 100
            [orphan] = set(emu.tasks) - set(report.task_ids)
            assert set(emu.tasks[orphan].delivered) == set(ambiguous.userids)
            repeat = await client.work_notice.get_result(ambiguous.task_id)
            assert sorted(repeat.forbidden_userids) == sorted(ambiguous.userids)
            assert {(f.code, f.count) for f in repeat.forbidden} == {("143105", 1)}

        assert all(len(emu.inboxes[u]) == 1 for u in users)  # exactly one message each
        assert report.recipients == 300 == sum(len(b.userids) for b in report.batches)
        assert len(report.acknowledged) == 3 and report.failed == [] and report.retries == 1


async def test_single_send_timeout_after_accept_then_retry(emulator_users: int = 5) -> None:
    late = Fault(path=SEND, kind="delay", delay=1.0, after_accept=True)
    async with Emulator(org=Org.synthetic(n_users=emulator_users),
                        faults=FaultPlan(script={SEND: [late]})) as emu:
        app = emu.app
        async with DingTalkClient(app.app_key, app.app_secret, agent_id=app.agent_id,
                                  base_url=emu.url, timeout=0.3, retry=FAST) as client:
            task_id = await client.work_notice.send(Text(content="x"), userids=["u000001"])
        assert emu.duplicates_dropped == 1 and len(emu.inboxes["u000001"]) == 1
        assert emu.tasks[task_id].forbidden == {"u000001"}
