"""``dingnotify robot send|broadcast|status|recall``: the enterprise robot from a shell.

``broadcast`` shares the work-notice broadcast's recipients files, mobile resolution,
journal, progress and exit codes (``_audience``, ``_fanout``); its batches are
``Robot.userids_per_call`` userids (the robot API's limit), and the journal's plan records
that size, so a robot journal never resumes a work-notice run. Resend rounds of
flow-controlled users are the SDK's (``robot.broadcast``); the journal keeps each batch's
answer and the re-send rounds, and a resumed run restores them (``restore``): users still
flow-controlled are re-sent for the rounds left, users whose answer is unknown are reported
``unconfirmed``, never ``sent``.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import _exitcodes as codes
from ._audience import Audience, read_wanted, resolve
from ._commands import edition_of, to_userids
from ._config import SETTINGS, ConfigError, Credentials, load_credentials
from ._display import Output, report_data, summarize_report
from ._export import check_out_path, export
from ._fanout import BatchSizes, Hook, fan_out, notice_problems, plan
from ._inputs import InputError, read_file
from ._journal import Journal, digest
from ._sdk import (
    DingTalkClient,
    InvalidArgumentError,
    NotFoundError,
    Robot,
    RobotBroadcastReport,
    RobotMessage,
    RobotSendResult,
    SampleMarkdown,
    SampleText,
    encode_msg_param,
    quota_for,
)

# -- settings, client, message ------------------------------------------------------------

def robot_code_of(args: argparse.Namespace, creds: Credentials) -> str:
    """``--robot-code``, else ``DINGTALK_ROBOT_CODE`` or the config file's ``robot_code``;
    missing is a credentials error (exit 3)."""
    code = (args.robot_code or creds.robot_code or "").strip()
    if not code:
        raise ConfigError(f"no robot code: set {SETTINGS['robot_code']}, pass --robot-code "
                          "or put robot_code in the config file")
    return code


def robot_client(creds: Credentials, args: argparse.Namespace, robot_code: str) -> DingTalkClient:
    """A client for the robot: ``--api-base-url``/``DINGTALK_API_BASE_URL`` and the edition."""
    options: dict[str, Any] = {"robot_code": robot_code, "base_url": creds.base_url,
                               "timeout": args.request_timeout,
                               "quota": quota_for(edition_of(args, creds))}
    api = args.api_base_url or creds.api_base_url
    if api:
        options["api_base_url"] = api
    return DingTalkClient(creds.app_key, creds.app_secret, **options)


def robot_message(args: argparse.Namespace) -> RobotMessage:
    """``--text`` (sampleText) or ``--markdown FILE --title T`` (sampleMarkdown)."""
    if (args.text is None) == (args.markdown is None):
        raise InputError("give exactly one of --text, --markdown FILE")
    message: RobotMessage
    if args.text is not None:
        if args.title is not None:
            raise InputError("--title goes with --markdown, not --text")
        message = SampleText(content=args.text)  # ValidationError (exit 2) if empty
    else:
        if not args.title:
            raise InputError("--markdown needs --title (the preview in the chat list)")
        message = SampleMarkdown(title=args.title, text=read_file(args.markdown))
    try:
        encode_msg_param(message)
    except (UnicodeError, ValueError) as exc:
        raise InputError(f"the message cannot be sent as UTF-8 JSON ({exc})") from None
    return message


# -- send, status, recall -----------------------------------------------------------------

async def cmd_send(args: argparse.Namespace, creds: Credentials, code: str) -> int:
    """``robot send``: one call to at most ``Robot.userids_per_call`` users; exit 4 if some
    were not sent."""
    out = Output(args.format)
    message = robot_message(args)
    userids = to_userids(args.user or [])
    if not userids:
        raise InputError(f"no recipients: give --user (at most {Robot.userids_per_call})")
    async with robot_client(creds, args, code) as client:
        result = await client.robot.send(message, userids=userids)
    out.text(f"process_query_key: {result.process_query_key}")
    left_out = {"invalid": result.invalid_userids, "throttled": result.throttled_userids,
                "filtered": result.filtered_userids}
    for name, ids in left_out.items():
        if ids:
            out.notice(f"{name} ({len(ids)}): {', '.join(ids)}")  # one call's users
    status = codes.PARTIAL if any(left_out.values()) else codes.OK
    out.json({**out.builtins(result), "exit_code": status})
    return status


async def cmd_status(args: argparse.Namespace, creds: Credentials, code: str) -> int:
    """``robot status KEY...``: send status and read/unread counts; exit 4 for unknown keys."""
    out = Output(args.format)
    rows: list[dict[str, object]] = []
    status = codes.OK
    async with robot_client(creds, args, code) as client:
        for key in dict.fromkeys(args.keys):
            try:
                got = await client.robot.read_status(key)
            except (InvalidArgumentError, NotFoundError) as exc:
                out.notice(f"{key}: {type(exc).__name__}: {exc}")
                rows.append({"process_query_key": key, "error": f"{type(exc).__name__}: {exc}"})
                status = codes.PARTIAL
                continue
            out.text(f"{key}: {got.send_status}  read: {len(got.read_userids)}  "
                     f"unread: {len(got.unread_userids)}")
            rows.append({"process_query_key": key, "send_status": got.send_status,
                         "read": len(got.read_userids), "unread": len(got.unread_userids),
                         "read_userids": got.read_userids, "unread_userids": got.unread_userids})
    out.json(rows)
    return status


async def cmd_recall(args: argparse.Namespace, creds: Credentials, code: str) -> int:
    """``robot recall KEY...``: the outcome per key; exit 4 if any was not recalled."""
    out = Output(args.format)
    async with robot_client(creds, args, code) as client:
        result = await client.robot.recall(args.keys)
    for key in result.recalled:
        out.text(f"{key}: recalled")
    for key, reason in result.failed.items():
        out.text(f"{key}: not recalled: {reason}")
    status = codes.PARTIAL if result.failed else codes.OK
    out.json({**out.builtins(result), "exit_code": status})
    return status


# -- broadcast ----------------------------------------------------------------------------

def message_hash(code: str, message: RobotMessage) -> str:
    """What the journal's plan is for: the robot, its code, the message."""
    return digest(b"robot", code.encode(), message.msg_key.encode(),
                  encode_msg_param(message).encode())


def restore(journal: Journal | None, acknowledged: dict[int, str],
            out: Output) -> RobotBroadcastReport:
    """A report holding what earlier runs of the journal learned: each acknowledged batch's
    answer with the outcome of the re-send rounds folded in (a user's last outcome wins),
    the rounds done, and the users whose outcome is unknown (``robot_resumed_unknown``).

    A user throttled in its batch and not since taken by an answered round stays throttled
    in its batch's answer, so the SDK re-sends it; a re-send batch that failed (certainly
    not sent) leaves its users throttled; one of unknown outcome makes them unconfirmed."""
    done = RobotBroadcastReport()
    if journal is None or not acknowledged:
        return done
    answers = {idx: got for idx, got in journal.answers().items() if idx in acknowledged}
    outcome: dict[str, str] = {}

    def take(userids: list[str], answer: dict[str, list[str]] | None) -> None:
        if answer is None:
            outcome.update(dict.fromkeys(userids, "unknown"))
            return
        why = {u: name for name in ("filtered", "throttled", "invalid")
               for u in answer.get(name, ())}
        outcome.update({u: why.get(u, "sent") for u in userids})

    for userids, answer in answers.values():
        if answer is not None:
            take(userids, answer)
    rows = journal.resends()
    for row in rows:
        if row.state == "acknowledged":
            take(row.userids, row.answer)
        elif row.state == "unknown":
            take(row.userids, None)
    for idx, (userids, answer) in answers.items():
        if answer is None:
            continue  # the answer was not kept: robot_unconfirmed_userids
        lists: dict[str, list[str]] = {"invalid": [], "throttled": [], "filtered": []}
        for userid in userids:
            state = outcome.get(userid, "sent")
            if state in lists:
                lists[state].append(userid)
            elif state == "unknown":
                done.robot_resumed_unknown.append(userid)
        done.robot_results[idx] = RobotSendResult(
            process_query_key=acknowledged[idx], invalid_userids=lists["invalid"],
            throttled_userids=lists["throttled"], filtered_userids=lists["filtered"])
    done.resend_rounds = max((row.round for row in rows), default=0)
    throttled = sum(len(r.throttled_userids) for r in done.robot_results.values())
    if throttled or done.resend_rounds:
        out.notice(f"resuming: {throttled} user(s) still flow-controlled after "
                   f"{done.resend_rounds} re-send round(s)")
    return done


async def run(client: DingTalkClient, args: argparse.Namespace, message: RobotMessage,
              audience: Audience, sizes: BatchSizes, journal: Journal | None,
              acknowledged: dict[int, str], out: Output) -> RobotBroadcastReport:
    """The broadcast with its resend rounds (those an earlier run of the journal did
    counted), journaled, with progress; stopped early on fatal errors. Batches an earlier
    run left unknown are not sent again: the robot API does not drop a repeat."""
    done = restore(journal, acknowledged, out)
    rounds_left = max(0, args.resend_rounds - done.resend_rounds)
    unknown = set() if journal is None else journal.unknown()

    async def start(on_event: Hook) -> object:
        return await client.robot.broadcast(
            message, userids=audience.userids, concurrency=args.concurrency,
            rate=args.rate or None, timeout=args.timeout, resend_rounds=rounds_left,
            resend_delay=args.resend_delay, on_event=on_event, acknowledged=acknowledged,
            unknown=unknown, report=done)

    await fan_out(start, total=sizes.count(audience), journal=journal, quiet=args.quiet)
    return done


def status_of(report: RobotBroadcastReport, audience: Audience) -> int:
    """OK only if every batch was acknowledged and every user was sent the message."""
    clean = report.complete and not report.failed and not report.unknown
    left_out = (report.robot_invalid_userids or report.robot_filtered_userids
                or report.robot_throttled_userids or report.robot_unconfirmed_userids
                or audience.unknown_mobiles)
    return codes.OK if clean and not left_out else codes.PARTIAL


def recipient_rows(report: RobotBroadcastReport, audience: Audience) -> list[dict[str, object]]:
    """One row per recipient with its final state (its last batch wins: re-sent users),
    then unknown mobiles. ``unconfirmed``: acknowledged, DingTalk's answer unknown."""
    rows: dict[str, dict[str, object]] = {}
    unconfirmed = set(report.robot_resumed_unknown)
    for batch in report.batches:
        error = "" if batch.error is None else f"{type(batch.error).__name__}: {batch.error}"
        result = report.robot_results.get(batch.index)
        why: dict[str, str] = dict.fromkeys(unconfirmed, "unconfirmed")
        if result is not None:
            for name, ids in (("invalid", result.invalid_userids),
                              ("filtered", result.filtered_userids),
                              ("throttled", result.throttled_userids)):
                why.update(dict.fromkeys(ids, name))
        default = "sent" if result is not None else "unconfirmed"
        for userid in batch.userids:
            state = (f"batch_{batch.state}" if batch.task_id is None
                     else why.get(userid, default))
            rows[userid] = {"userid": userid, "mobile": audience.mobile_of.get(userid, ""),
                            "status": state, "batch": batch.index,
                            "task_id": batch.task_id or "", "error": error}
    unknown: list[dict[str, object]] = [
        {"userid": "", "mobile": m, "status": "unknown_mobile", "batch": "", "task_id": "",
         "error": ""} for m in audience.unknown_mobiles]
    return [*rows.values(), *unknown]


def write_report(args: argparse.Namespace, report: RobotBroadcastReport, audience: Audience,
                 status: int, out: Output) -> None:
    """Summaries, problem batches, users left out, ``--out`` and the JSON document."""
    sent, invalid = report.robot_sent_userids, report.robot_invalid_userids
    filtered, throttled = report.robot_filtered_userids, report.robot_throttled_userids
    unconfirmed = report.robot_unconfirmed_userids
    out.text(summarize_report(report))
    out.text(f"sent: {len(sent)}  invalid: {len(invalid)}  filtered: {len(filtered)}  "
             f"throttled: {len(throttled)}  resend rounds: {report.resend_rounds}"
             + (f"  unconfirmed: {len(unconfirmed)}" if unconfirmed else ""))
    notice_problems(report, out)
    if unconfirmed:
        out.notice(f"{len(unconfirmed)} user(s) acknowledged by an earlier run whose answer "
                   "was not journaled or is unknown (unconfirmed): they may have been sent "
                   "the message, so they are neither counted as sent nor sent again")
    if report.unknown:
        out.notice(f"{sum(len(b.userids) for b in report.unknown)} user(s) in "
                   f"{len(report.unknown)} batch(es) of unknown outcome may have been sent: "
                   "the robot API does not drop a repeat, so they were not sent again "
                   "(re-sending them may message them twice)")
    for name, ids in (("invalid", invalid), ("filtered", filtered),
                      ("still throttled", throttled)):
        if ids:
            out.notice(f"{name} user(s): {', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''}")
    if args.out:
        export(args.out, recipient_rows(report, audience))
        out.notice(f"wrote {args.out}")
    data = report_data(report)
    data.pop("task_ids", None)
    out.json({**data, "process_query_keys": report.process_query_keys, "sent": len(sent),
              "invalid_userids": invalid, "filtered_userids": filtered,
              "throttled_userids": throttled, "resend_rounds": report.resend_rounds,
              "unconfirmed_userids": unconfirmed,
              "unknown_mobiles": audience.unknown_mobiles, "out": args.out,
              "exit_code": status})


async def cmd_broadcast(args: argparse.Namespace, creds: Credentials, code: str) -> int:
    """``robot broadcast``: resolve -> plan (journal) -> run -> report."""
    out = Output(args.format)
    message = robot_message(args)
    if not (args.recipients or args.user):
        raise InputError("no recipients: give --recipients FILE or --user")
    wanted = read_wanted(args.user, args.recipients, args.column)
    check_out_path(args.out)
    journal = Journal(args.journal) if args.journal else None  # locked from here on
    try:
        async with robot_client(creds, args, code) as client:
            planned_for = message_hash(code, message)
            audience = await resolve(client, wanted, out, journal, planned_for,
                                     quiet=args.quiet)
            sizes = BatchSizes(client.robot.userids_per_call)
            done_before = plan(journal, planned_for, audience, sizes, out)
            acknowledged = {index: str(key) for index, key in done_before.items()}
            done = await run(client, args, message, audience, sizes, journal, acknowledged, out)
            status = status_of(done, audience)
            write_report(args, done, audience, status, out)
            return status
    finally:
        if journal is not None:
            journal.close()


COMMANDS = {"send": cmd_send, "broadcast": cmd_broadcast, "status": cmd_status,
            "recall": cmd_recall}


async def cmd_robot(args: argparse.Namespace) -> int:
    """``dingnotify robot COMMAND``: credentials and robot code, then the command."""
    creds = load_credentials(args.config, base_url=args.base_url)
    return await COMMANDS[args.robot_command](args, creds, robot_code_of(args, creds))
