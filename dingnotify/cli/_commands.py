"""The send, broadcast and task commands: thin layers over the public API."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .._client import DingTalkClient
from .._concurrency import for_each
from .._errors import DeliveryTimeoutError, NotFoundError
from .._recipients import batch_count, check_userid, unique_dept_ids
from ..broadcast import BroadcastEvent
from ..messages import Message, encode_msg
from . import _exitcodes as codes
from ._config import Credentials
from ._display import BroadcastProgress, say, summarize_report, summarize_result
from ._export import export, recipient_rows
from ._inputs import InputError, build_message, read_recipients
from ._journal import Journal, digest

MOBILE_CONCURRENCY = 8


def client_for(creds: Credentials, args: argparse.Namespace) -> DingTalkClient:
    return DingTalkClient(creds.app_key, creds.app_secret, agent_id=creds.agent_id,
                          base_url=creds.base_url, timeout=args.request_timeout)


def message_from(args: argparse.Namespace) -> Message:
    return build_message(text=args.text, markdown=args.markdown, title=args.title,
                         json_file=args.json)


async def resolve_mobiles(
    client: DingTalkClient, mobiles: list[str]
) -> tuple[dict[str, str], list[str]]:
    """mobile -> userid with bounded concurrency; unknown numbers are returned, not raised."""
    found: dict[str, str] = {}
    unknown: list[str] = []

    async def one(mobile: str) -> None:
        try:
            found[mobile] = await client.users.get_by_mobile(mobile)
        except NotFoundError:
            unknown.append(mobile)

    await for_each(dict.fromkeys(mobiles), MOBILE_CONCURRENCY, one)
    return found, sorted(unknown, key=mobiles.index)


def _userids(values: list[str]) -> list[str]:
    try:
        return list(dict.fromkeys(check_userid(v) for v in values))
    except ValueError as exc:
        raise InputError(str(exc)) from None


async def cmd_send(args: argparse.Namespace, creds: Credentials) -> int:
    message = message_from(args)
    async with client_for(creds, args) as client:
        found, unknown = await resolve_mobiles(client, args.mobile or [])
        for mobile in unknown:
            say(f"unknown mobile: {mobile}", err=True)
        userids = _userids((args.user or []) + list(found.values()))
        if not (userids or args.dept or args.to_all):
            raise InputError("no recipients: give --user, --mobile, --dept or --to-all")
        task_id = await client.work_notice.send(
            message, userids=userids, dept_ids=args.dept or [], to_all_user=args.to_all)
        say(f"task_id: {task_id}")
        if args.wait:
            result = await client.work_notice.wait([task_id], timeout=args.wait_timeout)
            say(summarize_result(result))
    return codes.PARTIAL if unknown else codes.OK


def _tee(*hooks: Callable[[BroadcastEvent], None]) -> Callable[[BroadcastEvent], None]:
    def emit(event: BroadcastEvent) -> None:
        for hook in hooks:
            hook(event)
    return emit


async def cmd_broadcast(args: argparse.Namespace, creds: Credentials) -> int:
    message = message_from(args)
    userids_in: list[str] = list(args.user or [])
    mobiles_in: list[str] = []
    for path in args.recipients or []:
        found_in = read_recipients(path, args.column)
        userids_in += found_in.userids
        mobiles_in += found_in.mobiles
    depts = unique_dept_ids(args.dept or [])
    if args.to_all and (userids_in or mobiles_in or depts):
        raise InputError("--to-all sends to everyone: drop --recipients/--user/--dept")
    if not (userids_in or mobiles_in or depts or args.to_all):
        raise InputError("no recipients: give --recipients FILE, --user, --dept or --to-all")
    async with client_for(creds, args) as client:
        found, unknown = await resolve_mobiles(client, mobiles_in)
        if unknown:
            say(f"{len(unknown)} unknown mobile(s), e.g. {unknown[0]}", err=True)
        userids = _userids(userids_in + [found[m] for m in mobiles_in if m in found])
        by_userid = {u: m for m, u in found.items()}
        if not (userids or depts or args.to_all):
            raise InputError("no recipients left after resolving mobiles")
        journal = Journal(args.journal) if args.journal else None
        try:
            acknowledged: dict[int, int] = {}
            hooks: list[Callable[[BroadcastEvent], None]] = []
            if journal is not None:
                msg_hash = digest(encode_msg(message), str(client.agent_id).encode(),
                                  b"all" if args.to_all else b"")
                acknowledged = journal.prepare(msg_hash, userids, depts)
                hooks.append(journal.record)
                if acknowledged:
                    say(f"resuming: {len(acknowledged)} batch(es) already acknowledged", err=True)
            total = batch_count(len(userids), len(depts))
            with BroadcastProgress(total, quiet=args.quiet) as progress:
                report = await client.work_notice.broadcast(
                    message, userids=userids, dept_ids=depts, to_all_user=args.to_all,
                    concurrency=args.concurrency, rate=args.rate or None,
                    timeout=args.timeout, on_event=_tee(progress, *hooks),
                    acknowledged=acknowledged,
                )
        finally:
            if journal is not None:
                journal.close()
        say(summarize_report(report))
        for batch in report.failed[:5]:
            say(f"failed batch {batch.index}: {type(batch.error).__name__}: {batch.error}",
                err=True)
        result = None
        status = codes.OK if report.complete and not report.failed and not unknown else (
            codes.PARTIAL)
        if args.wait and report.task_ids:
            try:
                result = await client.work_notice.wait(
                    report, poll_interval=args.poll_interval, timeout=args.wait_timeout)
                say(summarize_result(result))
            except DeliveryTimeoutError as exc:
                say(f"delivery not finished: {exc}", err=True)
                status = codes.PARTIAL
        if args.out:
            export(args.out, recipient_rows(report, result, by_userid, unknown))
            say(f"wrote {args.out}")
    return status


async def cmd_tasks(args: argparse.Namespace, creds: Credentials) -> int:
    async with client_for(creds, args) as client:
        wn = client.work_notice
        for task_id in args.task_ids:
            if args.command == "progress":
                p = await wn.get_progress(task_id)
                say(f"{task_id}: {p.percent}% status={p.status} done={p.done}")
            elif args.command == "result":
                say(f"{task_id}: {summarize_result(await wn.get_result(task_id))}")
            else:
                await wn.recall(task_id)
                say(f"{task_id}: recalled")
    return codes.OK
