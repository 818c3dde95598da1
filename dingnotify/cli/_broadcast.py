"""``dingnotify broadcast``: resolve the recipients, plan (journal), run, report.

``cmd_broadcast`` at the bottom reads as those four steps; a resumed plan first counts
what its journal acknowledged in the last minute against the client's quota. Audience,
plan, progress and the stop rule are shared with ``robot broadcast`` (``_audience``,
``_fanout``); waiting and re-sending throttled recipients are the SDK's
(``work_notice.settle``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from . import _exitcodes as codes
from ._audience import Audience, read_wanted, resolve
from ._commands import client_for, message_from
from ._config import Credentials
from ._display import Output, report_data, summarize_report, summarize_result
from ._export import check_out_path, export, recipient_rows
from ._fanout import BatchSizes, Hook, fan_out, notice_problems, plan
from ._journal import Journal, Weigh, digest
from ._sdk import (
    SEND_API,
    BroadcastReport,
    CredentialsError,
    DeliveryTimeoutError,
    DingNotifyError,
    DingTalkClient,
    Message,
    SendResult,
    encode_msg,
)

POLL_ERROR_NOTICES = 100
"""After the first, one notice per this many failed polls: a long outage stays readable."""


SEED_HORIZON = 120.0
"""How far back a resumed journal's batches are counted against the quota: the governor's
minute (60 s and its margin) with room to spare; it forgets older ones by itself."""


@runtime_checkable
class Recorder(Protocol):
    """A governor that counts a call answered ``age`` seconds ago (``Governor.record``)."""

    def record(self, api: str, recipients: int = 0, *, age: float = 0.0) -> None: ...


def weigh_of(client: DingTalkClient, audience: Audience) -> Weigh:
    """What one batch draws from the recipients budget: the quota's own rule."""
    quota, to_all = client.work_notice.quota, audience.to_all

    def weigh(userids: Sequence[str], dept_ids: Sequence[int]) -> int:
        return quota.reservation(len(userids), len(dept_ids), to_all)
    return weigh


def seed_quota(client: DingTalkClient, journal: Journal | None, out: Output) -> None:
    """Count the batches a resumed journal had sent in the last minute against the client's
    quota before anything is sent: DingTalk still counts their recipients, and above its
    per-minute budget it answers success but delivers nothing. Restarted at once without
    this, a run spent a second minute's budget in seconds and 4,000 of 9,000 recipients
    got nothing."""
    governor = client.governor
    if journal is None or not isinstance(governor, Recorder):
        return
    now = time.time()
    drawn = journal.drawn_since(now - SEED_HORIZON)
    for at, recipients in drawn:
        governor.record(SEND_API, recipients, age=max(0.0, now - at))
    if drawn:
        out.notice(f"resuming: {sum(n for _, n in drawn):,} recipient(s) sent in the last "
                   "minute count against this minute's quota")


def batch_sizes(client: DingTalkClient) -> BatchSizes:
    """The run's batch sizes: the client's quota, read once."""
    quota = client.work_notice.quota
    return BatchSizes(quota.userids_per_call, quota.dept_ids_per_call)


def message_hash(client: DingTalkClient, message: Message, to_all: bool) -> str:
    """What the journal's plan is for: the message, the agent, everyone or not."""
    return digest(encode_msg(message), str(client.agent_id).encode(), b"all" if to_all else b"")


async def run(client: DingTalkClient, args: argparse.Namespace, message: Message,
              audience: Audience, sizes: BatchSizes, journal: Journal | None,
              acknowledged: dict[int, int]) -> BroadcastReport:
    """The broadcast itself, journaled, with progress; stopped early on fatal errors."""
    done = BroadcastReport()

    async def start(on_event: Hook) -> object:
        return await client.work_notice.broadcast(
            message, userids=audience.userids, dept_ids=audience.dept_ids,
            to_all_user=audience.to_all, concurrency=args.concurrency,
            rate=args.rate or None, timeout=args.timeout, on_event=on_event,
            acknowledged=acknowledged, report=done)

    try:
        await fan_out(start, total=sizes.count(audience), journal=journal, quiet=args.quiet)
    except BaseException:
        if journal is not None:  # batches in flight when the run stopped
            journal.unanswered(done)
        raise
    return done


@dataclass
class Waited:
    """What ``--wait`` learnt: the delivery result, or as much of it as was confirmed
    (``error`` says what stopped the wait), and the polls that failed and were retried."""

    result: SendResult | None = None
    error: DingNotifyError | None = None
    poll_errors: int = 0


async def wait_for(client: DingTalkClient, args: argparse.Namespace, message: Message,
                   report: BroadcastReport, out: Output) -> Waited:
    """Delivery result with ``--wait``. The SDK re-sends the recipients DingTalk's
    per-minute flow control filtered (``--resend-rounds``, ``--resend-delay``). A poll
    that fails for good, or the wait timing out, is reported, not raised: the SDK hands
    back what was confirmed (``partial_result``), so ``--out`` is still written with it."""
    waited = Waited()
    if not (args.wait and report.task_ids):
        return waited

    def confirmed(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % 50 == 0):
            out.notice(f"confirmed {done:,} of {total:,} task(s)")

    def poll_failed(task_id: int, error: Exception) -> None:
        waited.poll_errors += 1
        if waited.poll_errors == 1 or waited.poll_errors % POLL_ERROR_NOTICES == 0:
            out.notice(f"progress poll of task {task_id} failed, trying again "
                       f"({waited.poll_errors} so far): {type(error).__name__}: {error}")

    def resending(round_: int, userids: list[str]) -> None:
        out.notice(f"re-sending {len(userids):,} recipient(s) filtered by "
                   f"DingTalk's per-minute flow control (round {round_})")

    try:
        delivery = await client.work_notice.settle(
            message, report, concurrency=args.concurrency, rate=args.rate or None,
            timeout=args.timeout, resend_rounds=args.resend_rounds,
            resend_delay=args.resend_delay, poll_interval=args.poll_interval,
            wait_timeout=args.wait_timeout, on_progress=confirmed, on_resend=resending,
            on_poll_error=poll_failed)
    except DingNotifyError as exc:
        what = "delivery not finished" if isinstance(exc, DeliveryTimeoutError) \
            else f"progress poll failed: {type(exc).__name__}"
        out.notice(f"{what}: {exc}")
        known = exc.partial_result
        waited.result, waited.error = known if isinstance(known, SendResult) else None, exc
        return waited
    out.text(summarize_result(delivery.result))
    waited.result = delivery.result
    return waited


def status_of(report: BroadcastReport, audience: Audience, waited: Waited) -> int:
    """The exit code: OK only if every batch was acknowledged (and delivered); a wait
    stopped by rejected credentials is theirs (3), by anything else partial (4)."""
    if isinstance(waited.error, CredentialsError):
        return codes.CREDENTIALS
    clean = report.complete and not report.failed and not report.unknown
    finished = waited.error is None
    return codes.OK if clean and finished and not audience.unknown_mobiles else codes.PARTIAL


def write_report(args: argparse.Namespace, report: BroadcastReport, audience: Audience,
                 waited: Waited, status: int, out: Output) -> None:
    """Summary and problem batches, ``--out``, and the JSON document (``result``: the
    counts of what was confirmed, even when the wait stopped early)."""
    out.text(summarize_report(report))
    notice_problems(report, out)
    result = waited.result
    if args.out:
        export(args.out, recipient_rows(report, result, audience.mobile_of,
                                        audience.unknown_mobiles))
        out.notice(f"wrote {args.out}")
    out.json({**report_data(report), "unknown_mobiles": audience.unknown_mobiles,
              "result": None if result is None else result.counts(),
              "poll_errors": waited.poll_errors,
              "out": args.out, "exit_code": status})


async def report(client: DingTalkClient, args: argparse.Namespace, message: Message,
                 done: BroadcastReport, audience: Audience, out: Output) -> int:
    """Wait (with ``--wait``), then summary, ``--out`` and the exit status."""
    waited = await wait_for(client, args, message, done, out)
    status = status_of(done, audience, waited)
    write_report(args, done, audience, waited, status, out)
    return status


async def cmd_broadcast(args: argparse.Namespace, creds: Credentials) -> int:
    """``dingnotify broadcast``: resolve -> plan -> run -> report."""
    out = Output(args.format)
    message = message_from(args)
    wanted = read_wanted(args.user, args.recipients, args.column, dept_ids=args.dept,
                         to_all=args.to_all)
    check_out_path(args.out)
    journal = Journal(args.journal) if args.journal else None  # locked from here on
    try:
        async with client_for(creds, args) as client:
            planned_for = message_hash(client, message, wanted.to_all)
            audience = await resolve(client, wanted, out, journal, planned_for,
                                     quiet=args.quiet)
            sizes = batch_sizes(client)
            acknowledged = plan(journal, planned_for, audience, sizes, out,
                                weigh_of(client, audience))
            seed_quota(client, journal, out)
            done = await run(client, args, message, audience, sizes, journal, acknowledged)
            return await report(client, args, message, done, audience, out)
    finally:
        if journal is not None:
            journal.close()
