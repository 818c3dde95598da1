"""The send and task commands, and the helpers the broadcast shares: thin layers over the SDK."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import anyio

from . import _exitcodes as codes
from ._config import Credentials
from ._display import Output, progress_data, summarize_result
from ._inputs import InputError, build_message
from ._sdk import (
    EDITIONS,
    CredentialsError,
    DingNotifyError,
    DingTalkClient,
    Message,
    NotFoundError,
    ValidationError,
    WorkNotice,
    quota_for,
    unique_userids,
)

MOBILE_CONCURRENCY = 8


def edition_of(args: argparse.Namespace, creds: Credentials) -> str | None:
    """``--edition``, else the environment's or config file's (checked), else None (the
    default quota)."""
    edition = args.edition or creds.edition or None
    if edition is not None and edition not in EDITIONS:
        raise InputError(f"DINGTALK_EDITION (or edition in the config file) must be one of "
                         f"{', '.join(EDITIONS)}")
    return edition


def client_for(creds: Credentials, args: argparse.Namespace) -> DingTalkClient:
    """A client for these credentials and ``--request-timeout``."""
    return DingTalkClient(creds.app_key, creds.app_secret, agent_id=creds.agent_id,
                          base_url=creds.base_url, timeout=args.request_timeout,
                          quota=quota_for(edition_of(args, creds)))


def message_from(args: argparse.Namespace) -> Message:
    """The message of ``--text``, ``--markdown`` or ``--json``."""
    return build_message(text=args.text, markdown=args.markdown, title=args.title,
                         json_file=args.json)


Answered = Callable[[str, str | None], None]
"""Told each mobile's answer as it arrives: its userid, or None when unknown."""


async def resolve_mobiles(
    client: DingTalkClient, mobiles: list[str], on_answer: Answered | None = None
) -> tuple[dict[str, str], list[str]]:
    """mobile -> userid with bounded concurrency; unknown numbers are returned, not raised."""
    found: dict[str, str] = {}
    unknown: list[str] = []
    limiter = anyio.CapacityLimiter(MOBILE_CONCURRENCY)

    async def one(mobile: str) -> None:
        async with limiter:
            try:
                found[mobile] = userid = await client.users.get_by_mobile(mobile)
            except NotFoundError:
                unknown.append(mobile)
                userid = None
        if on_answer is not None:
            on_answer(mobile, userid)

    async with anyio.create_task_group() as tg:
        for mobile in dict.fromkeys(mobiles):
            tg.start_soon(one, mobile)
    return found, sorted(unknown, key=mobiles.index)


def to_userids(values: list[str]) -> list[str]:
    """The SDK's check and de-duplication (the journal's plan needs the unique list)."""
    try:
        return unique_userids(values)
    except ValidationError as exc:
        raise InputError(str(exc)) from None


async def cmd_send(args: argparse.Namespace, creds: Credentials) -> int:
    """``dingnotify send``: one call, optionally waiting for delivery."""
    out = Output(args.format)
    message = message_from(args)
    async with client_for(creds, args) as client:
        found, unknown = await resolve_mobiles(client, args.mobile or [])
        for mobile in unknown:
            out.notice(f"unknown mobile: {mobile}")
        userids = (args.user or []) + list(found.values())  # the SDK checks and de-duplicates
        if not (userids or args.dept or args.to_all):
            raise InputError("no recipients: give --user, --mobile, --dept or --to-all")
        task_id = await client.work_notice.send(
            message, userids=userids, dept_ids=args.dept or [], to_all_user=args.to_all)
        out.text(f"task_id: {task_id}")
        result = None
        if args.wait:
            result = await client.work_notice.wait([task_id], timeout=args.wait_timeout)
            out.text(summarize_result(result))
    status = codes.PARTIAL if unknown else codes.OK
    out.json({"task_id": task_id, "unknown_mobiles": unknown,
              "result": None if result is None else result.counts(), "exit_code": status})
    return status


async def _task(wn: WorkNotice, command: str, task_id: int, out: Output) -> dict[str, object]:
    """One task's progress, result or recall: its text line, and its JSON row."""
    if command == "progress":
        p = await wn.get_progress(task_id)
        out.text(f"{task_id}: {p.percent}% status={p.status} done={p.done}")
        return progress_data(task_id, p)
    if command == "result":
        result = await wn.get_result(task_id)
        out.text(f"{task_id}: {summarize_result(result)}")
        return {"task_id": task_id, **out.builtins(result)}
    await wn.recall(task_id)
    out.text(f"{task_id}: recalled")
    return {"task_id": task_id}


async def cmd_tasks(args: argparse.Namespace, creds: Credentials) -> int:
    """``dingnotify progress|result|recall TASK_ID...``: a task DingTalk refuses does not hide
    the others (exit 4, the JSON document has its ``error``); all refused is exit 5."""
    out = Output(getattr(args, "format", "text"))
    rows: list[dict[str, object]] = []
    failed: list[tuple[int, DingNotifyError]] = []
    async with client_for(creds, args) as client:
        for task_id in args.task_ids:
            try:
                rows.append(await _task(client.work_notice, args.command, task_id, out))
            except CredentialsError:
                raise
            except DingNotifyError as exc:
                failed.append((task_id, exc))
                rows.append({"task_id": task_id, "error": f"{type(exc).__name__}: {exc}"})
    out.json(rows)
    if failed and len(failed) == len(args.task_ids):
        raise failed[0][1]  # nothing known: the command failed as a whole (one line, exit 5)
    for task_id, error in failed:
        out.notice(f"{task_id}: {type(error).__name__}: {error}")
    return codes.PARTIAL if failed else codes.OK
