"""Deadlines and cancellation (issue 8): per-request timeouts, ``broadcast(timeout=...)``, and
cancelling a broadcast task. The report matches what the emulator acknowledged exactly, the
session closes, and nothing leaks (warnings are errors in this suite)."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import warnings

import anyio
import pytest

from dingnotify import (
    BroadcastCancelledError,
    BroadcastEvent,
    BroadcastReport,
    BroadcastTimeoutError,
    RequestTimeoutError,
    Text,
)
from dingnotify.testing import Emulator, Fault, FaultPlan, Org
from tests.emulated import client_for

SEND = "/topapi/message/corpconversation/asyncsend_v2"
USERS = [f"u{i:06d}" for i in range(1, 3001)]


def hang_after(n_ok: int) -> FaultPlan:
    """The first ``n_ok`` sends are served; every later one hangs before the server takes it."""
    return FaultPlan(script={SEND: ["ok"] * n_ok},
                     rules=[Fault(path=SEND, kind="delay", delay=30.0)])




def assert_no_leaks(caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    texts = [str(w.message) for w in caught]
    assert not [t for t in texts if "Unclosed" in t or "destroyed" in t], texts
    logged = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert not [t for t in logged if "destroyed" in t or "Unclosed" in t], logged


async def test_per_request_timeout_fails_the_batch_after_retries() -> None:
    async with Emulator(org=Org.synthetic(n_users=300), faults=hang_after(2)) as emu, \
            client_for(emu, timeout=0.5) as client:
        started = time.monotonic()
        report = await client.work_notice.broadcast(Text(content="t"), userids=USERS[:300],
                                                    concurrency=3)
        assert time.monotonic() - started < 4
        # A timed-out request may have reached DingTalk: unknown, not failed.
        [unknown] = report.unknown
        assert isinstance(unknown.error, RequestTimeoutError) and unknown.attempts == 3
        assert report.failed == []
        assert report.complete and len(report.acknowledged) == 2
        assert set(report.task_ids) == set(emu.tasks)


async def test_overall_deadline_fails_unacknowledged_batches(
        caplog: pytest.LogCaptureFixture) -> None:
    async with Emulator(org=Org.synthetic(n_users=3000), faults=hang_after(12)) as emu:
        async with client_for(emu, timeout=20) as client:
            started = time.monotonic()
            report = await client.work_notice.broadcast(Text(content="d"), userids=USERS,
                                                        concurrency=4, timeout=0.8)
            assert 0.8 <= time.monotonic() - started < 2
            session = client._http.transport.session  # type: ignore[attr-defined]  # the pooled session, to check it closes
        assert session.closed
        assert report.timed_out and not report.complete and not report.cancelled
        assert len(report.acknowledged) == 12
        # The four requests hanging in the server at the deadline may have been taken.
        assert len(report.unknown) == 4 and report.failed == []
        assert all(isinstance(b.error, BroadcastTimeoutError) for b in report.unknown)
        assert len(report.acknowledged) + len(report.unknown) == len(report.batches)
        assert set(report.task_ids) == set(emu.tasks)  # exactly what the emulator accepted
        delivered = {u for t in emu.tasks.values() for u in t.delivered}
        assert delivered == {u for b in report.acknowledged for u in b.userids}
    assert_no_leaks(caplog)


@pytest.mark.parametrize("how", ["task.cancel", "cancel_scope"])
async def test_cancelled_broadcast_reports_exactly_what_was_acknowledged(
        caplog: pytest.LogCaptureFixture, how: str) -> None:
    caplog.set_level(logging.DEBUG)
    report = BroadcastReport()
    async with Emulator(org=Org.synthetic(n_users=3000), faults=hang_after(10)) as emu:
        client = client_for(emu, timeout=20)
        async with client:
            session = client._http.transport.session  # type: ignore[attr-defined]
            ten_acked = asyncio.Event()

            def on_event(event: BroadcastEvent) -> None:
                if event.kind == "sent" and len(event.report.task_ids) == 10:
                    ten_acked.set()

            async def run() -> None:
                await client.work_notice.broadcast(Text(content="c"), userids=USERS,
                                                   concurrency=4, on_event=on_event,
                                                   report=report)

            with anyio.fail_after(10):
                if how == "task.cancel":
                    task = asyncio.create_task(run())
                    await ten_acked.wait()
                    await anyio.sleep(0.1)  # the next sends are now hanging in the server
                    task.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await task
                else:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(run)
                        await ten_acked.wait()
                        await anyio.sleep(0.1)
                        tg.cancel_scope.cancel()
            assert emu.max_in_flight_by_path[SEND] == 4
        assert session.closed
        assert report.cancelled and not report.complete and report.finished_at > 0
        assert len(report.acknowledged) == 10
        assert set(report.task_ids) == set(emu.tasks)
        assert all(isinstance(b.error, BroadcastCancelledError) for b in report.unknown)
        assert len(report.unknown) == 4 and report.failed == []  # the in-flight ones
        assert {b.state for b in report.batches} == {"acknowledged", "unknown"}
    assert_no_leaks(caplog)
