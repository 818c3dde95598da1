"""The ``dingnotify`` command: bulk broadcasts, single sends, task queries, the emulator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from .._concurrency import first_error
from .._errors import CredentialsError, DingNotifyError, ValidationError
from . import _exitcodes as codes
from ._config import ConfigError, load_credentials
from ._display import say
from ._inputs import InputError
from ._journal import JournalMismatchError
from ._webhook import add_webhook_parser, run_webhook


def _message_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text", help="a text message")
    p.add_argument("--markdown", metavar="FILE", help="a markdown message read from FILE")
    p.add_argument("--title", help="title of a --markdown message")
    p.add_argument("--json", metavar="FILE", help='any message type: {"msgtype": ..., ...}')


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-url", help="API root, e.g. an emulator's URL")
    p.add_argument("--config", help="TOML file with [dingtalk] app_key/app_secret/agent_id")
    p.add_argument("--agent-id", type=int, help="override the app's agent id")
    p.add_argument("--request-timeout", type=float, default=10.0, metavar="S")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dingnotify", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    send = sub.add_parser("send", help="one notification to a few people")
    _common(send)
    _message_flags(send)
    send.add_argument("--user", action="append", metavar="USERID")
    send.add_argument("--mobile", action="append")
    send.add_argument("--dept", action="append", type=int, metavar="DEPT_ID")
    send.add_argument("--to-all", action="store_true")
    send.add_argument("--wait", action="store_true", help="wait for delivery, print result")
    send.add_argument("--wait-timeout", type=float, default=300.0, metavar="S")

    bc = sub.add_parser("broadcast", help="notify many people from files, depts or everyone")
    _common(bc)
    _message_flags(bc)
    bc.add_argument("--recipients", action="append", metavar="FILE",
                    help="one userid per line, or CSV with a userid/mobile column")
    bc.add_argument("--column", help="CSV column holding userids or mobiles")
    bc.add_argument("--user", action="append", metavar="USERID")
    bc.add_argument("--dept", action="append", type=int, metavar="DEPT_ID")
    bc.add_argument("--to-all", action="store_true")
    bc.add_argument("--concurrency", type=int, default=16)
    bc.add_argument("--rate", type=float, default=40.0,
                    help="calls per second (DingTalk allows 40); 0 = unpaced")
    bc.add_argument("--timeout", type=float, metavar="S", help="overall deadline")
    bc.add_argument("--journal", metavar="FILE.sqlite", help="resumable journal")
    bc.add_argument("--wait", action="store_true", help="wait for delivery, print result")
    bc.add_argument("--wait-timeout", type=float, default=600.0, metavar="S")
    bc.add_argument("--poll-interval", type=float, default=1.0, metavar="S")
    bc.add_argument("--out", metavar="FILE", help="per-recipient status, .csv or .json")

    for name, text in (("progress", "delivery progress"), ("result", "delivery result"),
                       ("recall", "withdraw notifications")):
        task = sub.add_parser(name, help=f"{text} of TASK_ID...")
        _common(task)
        task.add_argument("task_ids", nargs="+", type=int, metavar="TASK_ID")

    demo = sub.add_parser("demo", help="broadcast to 50,000 users on the embedded emulator")
    demo.add_argument("--users", type=int, default=50_000)
    demo.add_argument("--rate", type=float, default=40.0)
    demo.add_argument("--concurrency", type=int, default=16)
    demo.add_argument("--profile", default="realistic", choices=("realistic", "unlimited"))
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true")

    sub.add_parser("emulator", help="serve the DingTalk emulator (see --help there)",
                   add_help=False)
    add_webhook_parser(sub)
    return parser


async def _dispatch(args: argparse.Namespace) -> int:
    from ._commands import cmd_broadcast, cmd_send, cmd_tasks
    from ._demo import cmd_demo

    if args.command == "demo":
        return await cmd_demo(args)
    creds = load_credentials(args.config, base_url=args.base_url, agent_id=args.agent_id)
    if creds.agent_id is None:
        raise ConfigError("no agent id: set DINGTALK_AGENT_ID or pass --agent-id")
    if args.command == "send":
        return await cmd_send(args, creds)
    if args.command == "broadcast":
        return await cmd_broadcast(args, creds)
    return await cmd_tasks(args, creds)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (see ``_exitcodes``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        from ._demo import cmd_emulator

        return cmd_emulator(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "webhook":
        return run_webhook(args)
    try:
        return anyio.run(_dispatch, args)
    except BaseException as caught:
        exc = first_error(caught)
        if isinstance(exc, InputError | ValidationError | JournalMismatchError):
            say(f"dingnotify: error: {exc}", err=True)
            return codes.USAGE
        if isinstance(exc, ConfigError | CredentialsError):
            say(f"dingnotify: credentials: {exc}", err=True)
            return codes.CREDENTIALS
        if isinstance(exc, DingNotifyError):
            say(f"dingnotify: {type(exc).__name__}: {exc}", err=True)
            return codes.API_ERROR
        if isinstance(exc, KeyboardInterrupt):
            say("dingnotify: interrupted", err=True)
            return codes.INTERRUPTED
        raise
