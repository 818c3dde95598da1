"""``dingnotify demo`` and ``dingnotify emulator``: the embedded emulator, no credentials."""

from __future__ import annotations

import argparse

from . import _exitcodes as codes
from ._display import BroadcastProgress, say, summarize_report, summarize_result
from ._sdk import DingTalkClient, Markdown, batch_count

GHOSTS = ("former-employee-1", "former-employee-2", "typo-userid")


async def cmd_demo(args: argparse.Namespace) -> int:
    """Broadcast to a synthetic organisation under DingTalk's real 40 QPS limit, then wait."""
    from ..testing import Emulator, Org  # the emulator is only needed for the demo

    org = Org.synthetic(n_users=args.users, seed=args.seed)
    say(f"emulator: synthetic organisation of {len(org.users):,} users, "
        f"profile {args.profile!r} (40 calls/s per API, like DingTalk)")
    async with Emulator(org=org, profile=args.profile, read_ratio=0.62,
                        progress_seconds=1.0, seed=args.seed) as emu:
        app = emu.app
        async with DingTalkClient(app.app_key, app.app_secret, agent_id=app.agent_id,
                                  base_url=emu.url) as client:
            message = Markdown(title="Quarterly all-hands",
                               text="### All-hands on Friday\nJoin at 15:00 in the main hall.")
            userids = [*org.users, *GHOSTS]
            total = batch_count(len(userids), 0)
            say(f"broadcasting to {len(userids):,} userids in {total} calls "
                f"at up to {args.rate:g} calls/s ...")
            with BroadcastProgress(total, quiet=args.quiet) as progress:
                report = await client.work_notice.broadcast(
                    message, userids=userids, concurrency=args.concurrency, rate=args.rate,
                    on_event=progress)
            say(summarize_report(report))
            say("waiting for DingTalk to deliver ...")
            result = await client.work_notice.wait(report.task_ids, poll_interval=0.5,
                                                   timeout=120, rate=args.rate)
            say(summarize_result(result))
            delivered = sum(1 for box in emu.inboxes.values() if box)
            say(f"emulator saw {emu.count('/gettoken')} /gettoken call(s), "
                f"{emu.count('/topapi/message/corpconversation/asyncsend_v2')} sends, "
                f"{sum(emu.throttled.values())} rate-limit answer(s); "
                f"{delivered:,} inboxes received the message")
    return codes.OK if report.complete and not report.failed else codes.PARTIAL


def cmd_emulator(argv: list[str]) -> int:
    """``dingnotify emulator``: the emulator's own command line."""
    from ..testing.__main__ import main as emulator_main

    return emulator_main(argv)
