"""``dingnotify card send|update|broadcast``: interactive cards from a shell.

``broadcast`` shares the other broadcasts' recipients files, mobile resolution, journal,
progress and exit codes (``_audience``, ``_fanout``); its batches are the cards (``--size``
users each), and the journal's plan covers the template, data, prefix and size. A resumed
run skips the cards the journal holds as acknowledged; any other card is sent again under
its same id, which DingTalk never turns into a second card.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import _exitcodes as codes
from ._audience import Audience, read_wanted, resolve
from ._config import Credentials, load_credentials
from ._display import Output, report_data, summarize_report
from ._export import check_out_path, export
from ._fanout import BatchSizes, Hook, fan_out, notice_problems, plan
from ._inputs import InputError, read_file
from ._journal import Journal, digest
from ._robot import robot_client, robot_code_of
from ._sdk import CardBroadcastReport, card_param_map


def card_data(text: str) -> dict[str, str]:
    """``--data``: a JSON object, or ``@FILE`` holding one; values as the card takes them."""
    raw = read_file(text[1:]) if text.startswith("@") else text
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"--data is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError("--data must be a JSON object of card variables")
    return card_param_map(data)  # ValidationError (exit 2) for keys or values too large


async def cmd_send(args: argparse.Namespace, creds: Credentials, code: str) -> int:
    """``card send``: one card; exit 4 if some recipient was not reached."""
    out = Output(args.format)
    if not (args.user or args.group):
        raise InputError("no recipients: give --user and/or --group")
    callback = None if args.callback == "none" else args.callback
    async with robot_client(creds, args, code) as client:
        got = await client.cards.deliver(
            args.template, out_track_id=args.id, data=card_data(args.data),
            userids=args.user or [], open_conversation_id=args.group, callback=callback,
            route_key=args.route_key)
    out.text(f"card {got.out_track_id}: delivered {len(got.delivered)}"
             + (" (it existed already)" if got.existed else ""))
    for who, why in got.failed.items():
        out.notice(f"not delivered to {who}: {why}")
    status = codes.PARTIAL if got.failed else codes.OK
    out.json({**out.builtins(got), "exit_code": status})
    return status


async def cmd_update(args: argparse.Namespace, creds: Credentials, code: str) -> int:
    """``card update ID``: merge (or ``--replace``) the card's data."""
    out = Output(args.format)
    async with robot_client(creds, args, code) as client:
        await client.cards.update(args.id, data=card_data(args.data), replace=args.replace)
    out.text(f"card {args.id}: updated")
    out.json({"out_track_id": args.id, "updated": True, "exit_code": codes.OK})
    return codes.OK


def plan_hash(args: argparse.Namespace, code: str, data: dict[str, str]) -> str:
    return digest(b"card", code.encode(), args.template.encode(), args.id_prefix.encode(),
                  json.dumps(data, sort_keys=True).encode())


def recipient_rows(report: CardBroadcastReport, audience: Audience) -> list[dict[str, Any]]:
    """One row per recipient with its final state and card (``task_id``: the card's
    ``outTrackId``), then unknown mobiles."""
    rows: list[dict[str, Any]] = []
    for batch in report.batches:
        delivery = report.deliveries.get(batch.index)
        error = "" if batch.error is None else f"{type(batch.error).__name__}: {batch.error}"
        for userid in batch.userids:
            if delivery is None:
                state = "resumed" if batch.task_id is not None else f"batch_{batch.state}"
            else:
                state = "failed" if userid in delivery.failed else "delivered"
                error = delivery.failed.get(userid, error)
            rows.append({"userid": userid, "mobile": audience.mobile_of.get(userid, ""),
                         "status": state, "batch": batch.index,
                         "task_id": batch.task_id or "", "error": error})
    rows += [{"userid": "", "mobile": m, "status": "unknown_mobile", "batch": "",
              "task_id": "", "error": ""} for m in audience.unknown_mobiles]
    return rows


async def cmd_broadcast(args: argparse.Namespace, creds: Credentials, code: str) -> int:
    """``card broadcast``: resolve -> plan (journal) -> run -> report."""
    out = Output(args.format)
    data = card_data(args.data)
    if not (args.recipients or args.user):
        raise InputError("no recipients: give --recipients FILE or --user")
    wanted = read_wanted(args.user, args.recipients, args.column)
    check_out_path(args.out)
    journal = Journal(args.journal) if args.journal else None  # locked from here on
    try:
        async with robot_client(creds, args, code) as client:
            planned_for = plan_hash(args, code, data)
            audience = await resolve(client, wanted, out, journal, planned_for,
                                     quiet=args.quiet)
            sizes = BatchSizes(args.size)
            before = plan(journal, planned_for, audience, sizes, out)
            report = CardBroadcastReport()

            async def start(on_event: Hook) -> object:
                return await client.cards.broadcast(
                    args.template, data=data, userids=audience.userids,
                    id_prefix=args.id_prefix, size=args.size, concurrency=args.concurrency,
                    timeout=args.timeout, on_event=on_event, report=report,
                    acknowledged={i: str(k) for i, k in before.items()})

            await fan_out(start, total=sizes.count(audience), journal=journal,
                          quiet=args.quiet)
    finally:
        if journal is not None:
            journal.close()
    clean = report.complete and not report.failed and not report.unknown
    status = codes.OK if clean and not report.failed_userids and \
        not audience.unknown_mobiles else codes.PARTIAL
    out.text(summarize_report(report))
    out.text(f"delivered: {len(report.delivered_userids)}  failed: "
             f"{len(report.failed_userids)}  resumed: {len(report.resumed_userids)}  "
             f"existed: {len(report.existed)} card(s)")
    notice_problems(report, out)
    if args.out:
        export(args.out, recipient_rows(report, audience))
        out.notice(f"wrote {args.out}")
    out.json({**report_data(report), "out_track_ids": report.out_track_ids,
              "delivered": len(report.delivered_userids),
              "failed_userids": report.failed_userids, "resumed": len(report.resumed_userids),
              "unknown_mobiles": audience.unknown_mobiles, "out": args.out,
              "exit_code": status})
    return status


COMMANDS = {"send": cmd_send, "update": cmd_update, "broadcast": cmd_broadcast}


async def cmd_card(args: argparse.Namespace) -> int:
    """``dingnotify card COMMAND``: credentials and robot code, then the command."""
    creds = load_credentials(args.config, base_url=args.base_url)
    return await COMMANDS[args.card_command](args, creds, robot_code_of(args, creds))
