"""``dingnotify demo`` and ``dingnotify emulator``: the embedded emulator, no credentials."""

from __future__ import annotations

import argparse
from dataclasses import replace

from . import _exitcodes as codes
from ._display import BroadcastProgress, say, summarize_report, summarize_result
from ._sdk import DingTalkClient, Markdown, batch_count, quota_for

GHOSTS = ("former-employee-1", "former-employee-2", "typo-userid")


async def cmd_demo(args: argparse.Namespace) -> int:
    """Broadcast to a synthetic organisation under DingTalk's documented limits, then wait."""
    from ..testing import Emulator, Org  # the emulator is only needed for the demo

    # The demo is the app's only user: no person waits for a send, so the broadcast keeps
    # no interactive reserve and may fill every window.
    quota = replace(quota_for(args.edition), interactive_reserve=0)
    org = Org.synthetic(n_users=args.users, seed=args.seed)
    userids = [*org.users, *GHOSTS]
    total = batch_count(len(userids), 0, userids_per_call=quota.userids_per_call)
    floor = max(total / quota.qps, 60.0 * ((len(userids) - 1) // quota.recipients_per_minute))
    say(f"emulator: synthetic organisation of {len(org.users):,} users, {args.edition} edition "
        f"({quota.qps:g} calls/s per API, {quota.recipients_per_minute:,} recipients a minute)")
    async with Emulator(org=org, profile=args.edition, read_ratio=0.62,
                        progress_seconds=1.0, seed=args.seed) as emu:
        app = emu.app
        async with DingTalkClient(app.app_key, app.app_secret, agent_id=app.agent_id,
                                  base_url=emu.url, quota=quota) as client:
            message = Markdown(title="Quarterly all-hands",
                               text="### All-hands on Friday\nJoin at 15:00 in the main hall.")
            say(f"broadcasting to {len(userids):,} userids in {total} calls; DingTalk's limits "
                f"make this take about {floor:.0f} s ...")
            with BroadcastProgress(total, quiet=args.quiet) as progress:
                report = await client.work_notice.broadcast(
                    message, userids=userids, concurrency=args.concurrency,
                    rate=args.rate or None, on_event=progress)
            say(summarize_report(report))
            say("waiting for DingTalk to deliver ...")

            def confirmed(done: int, count: int) -> None:
                if not args.quiet and (done == count or done % 25 == 0):
                    say(f"  confirmed {done} of {count} tasks", err=True)

            result = await client.work_notice.wait(report, poll_interval=0.5, timeout=120,
                                                   on_progress=confirmed)
            say(summarize_result(result))
            delivered = sum(1 for box in emu.inboxes.values() if box)
            undelivered = sum(emu.undelivered.values())
            say(f"emulator saw {emu.count('/gettoken')} /gettoken call(s), "
                f"{emu.count('/topapi/message/corpconversation/asyncsend_v2')} sends, "
                f"{sum(emu.throttled.values())} rate-limit answer(s), {undelivered} recipient(s) "
                f"silently undelivered; {delivered:,} inboxes received the message")
    clean = report.complete and not report.failed and not report.unknown and not undelivered
    return codes.OK if clean else codes.PARTIAL


def cmd_emulator(argv: list[str]) -> int:
    """``dingnotify emulator``: the emulator's own command line."""
    from ..testing.__main__ import main as emulator_main

    return emulator_main(argv, prog="dingnotify emulator")
