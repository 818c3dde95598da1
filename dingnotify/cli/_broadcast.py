"""``dingnotify broadcast``: resolve the recipients, plan (journal), run, report.

``cmd_broadcast`` at the bottom reads as those four steps; each is a function above it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import msgspec

from . import _exitcodes as codes
from ._commands import client_for, message_from, resolve_mobiles, to_userids
from ._config import Credentials
from ._display import (
    BroadcastProgress,
    Output,
    report_data,
    summarize_report,
    summarize_result,
)
from ._export import export, recipient_rows
from ._inputs import InputError, read_recipients
from ._journal import Journal, digest
from ._sdk import (
    BroadcastEvent,
    BroadcastReport,
    ConnectionFailedError,
    CredentialsError,
    DeliveryTimeoutError,
    DingNotifyError,
    DingTalkClient,
    Message,
    SendResult,
    batch_count,
    encode_msg,
    unique_dept_ids,
)

Hook = Callable[[BroadcastEvent], None]


@dataclass
class Audience:
    """Who gets the message, once mobiles are resolved."""

    userids: list[str]
    dept_ids: list[int]
    to_all: bool
    mobile_of: dict[str, str] = field(default_factory=dict)
    unknown_mobiles: list[str] = field(default_factory=list)


def check_out_path(out: str | None) -> None:
    """``--out`` must be writable before anything is sent."""
    if out is None:
        return
    target = Path(out)
    parent = target.parent if str(target.parent) else Path(".")
    if target.suffix.lower() not in (".csv", ".json"):
        raise InputError(f"--out {out}: name a .csv or .json file")
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: directory {parent} does not exist or is not writable")
    if target.exists() and (target.is_dir() or not os.access(target, os.W_OK)):
        raise InputError(f"--out {out}: not a writable file")


def read_inputs(args: argparse.Namespace) -> tuple[list[str], list[str], list[int]]:
    """Userids, mobiles and dept ids from flags and files (not yet resolved)."""
    userids: list[str] = list(args.user or [])
    mobiles: list[str] = []
    for path in args.recipients or []:
        found = read_recipients(path, args.column)
        userids += found.userids
        mobiles += found.mobiles
    depts = unique_dept_ids(args.dept or [])
    if args.to_all and (userids or mobiles or depts):
        raise InputError("--to-all sends to everyone: drop --recipients/--user/--dept")
    if not (userids or mobiles or depts or args.to_all):
        raise InputError("no recipients: give --recipients FILE, --user, --dept or --to-all")
    return userids, mobiles, depts


async def resolve(client: DingTalkClient, args: argparse.Namespace, out: Output) -> Audience:
    """Read the flags and files, resolve mobiles: who gets the message."""
    userids, mobiles, depts = read_inputs(args)
    found, unknown = await resolve_mobiles(client, mobiles)
    if unknown:
        out.notice(f"{len(unknown)} unknown mobile(s), e.g. {unknown[0]}")
    audience = Audience(to_userids(userids + [found[m] for m in mobiles if m in found]), depts,
                        args.to_all, {u: m for m, u in found.items()}, unknown)
    if not (audience.userids or depts or args.to_all):
        raise InputError("no recipients left after resolving mobiles")
    return audience


def plan(journal: Journal | None, client: DingTalkClient, message: Message,
         audience: Audience, out: Output) -> dict[int, int]:
    """The journal's plan: batches a previous run already got acknowledged."""
    if journal is None:
        return {}
    msg_hash = digest(encode_msg(message), str(client.agent_id).encode(),
                      b"all" if audience.to_all else b"")
    acknowledged = journal.prepare(msg_hash, audience.userids, audience.dept_ids)
    if acknowledged:
        out.notice(f"resuming: {len(acknowledged)} batch(es) already acknowledged")
    return acknowledged


class StopOnFatal:
    """Stops the run at the first failure that proves it cannot succeed: credentials
    rejected, or the server unreachable (a connection failure, retried or not, before
    anything was acknowledged). Retrying every batch would only delay the same answer."""

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.error: BaseException | None = None

    def __call__(self, event: BroadcastEvent) -> None:
        if event.kind not in ("failed", "retry") or self.error is not None:
            return
        error = event.error
        unreachable = isinstance(error, ConnectionFailedError) and not event.report.acknowledged
        if isinstance(error, CredentialsError) or unreachable:
            self.error = error
            self.scope.cancel()


def tee(*hooks: Hook) -> Hook:
    """One hook that calls each of ``hooks`` in turn."""

    def emit(event: BroadcastEvent) -> None:
        for hook in hooks:
            hook(event)
    return emit


async def run(client: DingTalkClient, args: argparse.Namespace, message: Message,
              audience: Audience, journal: Journal | None,
              acknowledged: dict[int, int]) -> BroadcastReport:
    """The broadcast itself, journaled, with progress; stopped early by ``StopOnFatal``."""
    hooks: list[Hook] = [journal.record] if journal is not None else []
    stop, done = StopOnFatal(), BroadcastReport()
    quota = client.quota
    total = batch_count(len(audience.userids), len(audience.dept_ids),
                        **({} if quota is None else {"userids_per_call": quota.userids_per_call,
                                                     "dept_ids_per_call": quota.dept_ids_per_call}))
    with BroadcastProgress(total, quiet=args.quiet) as progress, stop.scope:
        await client.work_notice.broadcast(
            message, userids=audience.userids, dept_ids=audience.dept_ids,
            to_all_user=audience.to_all, concurrency=args.concurrency,
            rate=args.rate or None, timeout=args.timeout,
            on_event=tee(progress, *hooks, stop), acknowledged=acknowledged, report=done)
    if stop.error is not None:
        raise stop.error
    return done


async def wait_for(client: DingTalkClient, args: argparse.Namespace, message: Message,
                   report: BroadcastReport, out: Output) -> tuple[SendResult | None, bool]:
    """Delivery result with ``--wait``; ``(result, finished)``. Recipients DingTalk's
    per-minute flow control filtered are re-sent (``--resend-rounds``). A failed poll is
    reported, not raised: ``--out`` is still written with what is known."""
    if not (args.wait and report.task_ids):
        return None, True
    try:
        result = await _confirm(client, args, report, out)
        for round_ in range(1, args.resend_rounds + 1):
            if not result.throttled_userids:
                break
            out.notice(f"re-sending {len(result.throttled_userids):,} recipient(s) filtered by "
                       f"DingTalk's per-minute flow control (round {round_})")
            again = await client.work_notice.broadcast(
                message, userids=result.throttled_userids, concurrency=args.concurrency,
                rate=args.rate or None, timeout=args.timeout)
            report.batches.extend(again.batches)
            retried = await _confirm(client, args, again, out)
            result = _replace_throttled(result, retried)
    except DeliveryTimeoutError as exc:
        out.notice(f"delivery not finished: {exc}")
        return None, False
    except DingNotifyError as exc:
        out.notice(f"progress poll failed: {type(exc).__name__}: {exc}")
        return None, False
    out.text(summarize_result(result))
    return result, True


async def _confirm(client: DingTalkClient, args: argparse.Namespace, report: BroadcastReport,
                   out: Output) -> SendResult:
    def progress(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % 50 == 0):
            out.notice(f"confirmed {done:,} of {total:,} task(s)")

    return await client.work_notice.wait(report, poll_interval=args.poll_interval,
                                          timeout=args.wait_timeout, on_progress=progress)


def _replace_throttled(first: SendResult, retried: SendResult) -> SendResult:
    """``first`` with its throttled recipients replaced by what the re-send found."""
    merged = SendResult.merge([first, retried])
    settled = set(retried.read_userids) | set(retried.unread_userids) | set(
        retried.forbidden_userids) | set(retried.invalid_userids) | set(retried.failed_userids)
    return msgspec.structs.replace(
        merged, throttled_userids=[u for u in merged.throttled_userids if u not in settled])


def status_of(report: BroadcastReport, audience: Audience, finished: bool) -> int:
    """The exit code: OK only if every batch was acknowledged (and delivered)."""
    clean = report.complete and not report.failed and not report.unknown
    return codes.OK if clean and finished and not audience.unknown_mobiles else codes.PARTIAL


def write_report(args: argparse.Namespace, report: BroadcastReport, audience: Audience,
                 result: SendResult | None, status: int, out: Output) -> None:
    """Summary and problem batches, ``--out``, and the JSON document."""
    out.text(summarize_report(report))
    for batch in [*report.failed, *report.unknown][:5]:
        out.notice(f"{batch.state} batch {batch.index}: "
                   f"{type(batch.error).__name__}: {batch.error}")
    if args.out:
        export(args.out, recipient_rows(report, result, audience.mobile_of,
                                        audience.unknown_mobiles))
        out.notice(f"wrote {args.out}")
    out.json({**report_data(report), "unknown_mobiles": audience.unknown_mobiles,
              "result": None if result is None else result.counts(), "out": args.out,
              "exit_code": status})


async def report(client: DingTalkClient, args: argparse.Namespace, message: Message,
                 done: BroadcastReport, audience: Audience, out: Output) -> int:
    """Wait (with ``--wait``), then summary, ``--out`` and the exit status."""
    result, finished = await wait_for(client, args, message, done, out)
    status = status_of(done, audience, finished)
    write_report(args, done, audience, result, status, out)
    return status


async def cmd_broadcast(args: argparse.Namespace, creds: Credentials) -> int:
    """``dingnotify broadcast``: resolve -> plan -> run -> report."""
    out = Output(args.format)
    message = message_from(args)
    check_out_path(args.out)
    journal = Journal(args.journal) if args.journal else None  # locked from here on
    try:
        async with client_for(creds, args) as client:
            audience = await resolve(client, args, out)
            acknowledged = plan(journal, client, message, audience, out)
            done = await run(client, args, message, audience, journal, acknowledged)
            return await report(client, args, message, done, audience, out)
    finally:
        if journal is not None:
            journal.close()
