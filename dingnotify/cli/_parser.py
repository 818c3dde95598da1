"""The command line's flags: every one with help, checked before anything is sent."""

from __future__ import annotations

import argparse
import math
import sys
from typing import NoReturn

from . import _exitcodes as codes
from ._config import ENV_DOC
from ._sdk import DEFAULT_RESEND_DELAY, DEFAULT_RESEND_ROUNDS, EDITIONS, __version__
from ._serve import add_serve_parser
from ._webhook import add_webhook_parser

DESCRIPTION = "Bulk broadcasts, single sends, task queries and the DingTalk emulator."
EPILOG = f"{ENV_DOC}\n\n{codes.EPILOG}"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``dingnotify: error: [COMMAND: ]...``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("dingnotify").strip()
        where = f"{command}: " if command else ""
        print(f"dingnotify: error: {where}{message}", file=sys.stderr)
        sys.exit(codes.USAGE)


def _number(text: str, *, minimum: float, allow_equal: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    ok = math.isfinite(value) and (value >= minimum if allow_equal else value > minimum)
    if not ok:
        bound = f">= {minimum:g}" if allow_equal else f"> {minimum:g}"
        raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text!r}")
    return value


def seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    return _number(text, minimum=0, allow_equal=False)


def rate(text: str) -> float:
    """Calls per second: finite and >= 0 (0 = unpaced)."""
    return _number(text, minimum=0, allow_equal=True)


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def resend_flags(p: Parser, *, when: str) -> None:
    """``--resend-rounds``/``--resend-delay``, passed to the SDK, its defaults shown."""
    p.add_argument("--resend-rounds", type=int, choices=range(0, 6),
                   default=DEFAULT_RESEND_ROUNDS, metavar="N",
                   help=f"{when}re-send recipients DingTalk's per-minute flow control held "
                        f"back, up to N rounds (0-5, default {DEFAULT_RESEND_ROUNDS})")
    p.add_argument("--resend-delay", type=_delay, default=DEFAULT_RESEND_DELAY, metavar="S",
                   help=f"seconds before each re-send round (default {DEFAULT_RESEND_DELAY:g})")


def _delay(text: str) -> float:
    """A finite number of seconds >= 0."""
    return _number(text, minimum=0, allow_equal=True)


def _sub(sub: argparse._SubParsersAction[Parser], name: str, text: str) -> Parser:
    return sub.add_parser(name, help=text, description=text, epilog=EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _message_flags(p: Parser) -> None:
    p.add_argument("--text", help="a text message")
    p.add_argument("--markdown", metavar="FILE",
                   help="a markdown message read from FILE (- for standard input)")
    p.add_argument("--title", help="title of a --markdown message (the chat list preview)")
    p.add_argument("--json", metavar="FILE",
                   help='any message type from a JSON file (- for standard input): '
                        '{"msgtype": ..., ...}')


def _common(p: Parser, *, json_output: bool = True) -> None:
    p.add_argument("--base-url", help="API root, e.g. an emulator's URL (env DINGTALK_BASE_URL)")
    p.add_argument("--config", metavar="FILE",
                   help="TOML file with [dingtalk] app_key/app_secret/agent_id "
                        "(env DINGNOTIFY_CONFIG)")
    p.add_argument("--agent-id", type=positive_int, metavar="ID", help="the app's agent id "
                   "(env DINGTALK_AGENT_ID)")
    p.add_argument("--request-timeout", type=seconds, default=10.0, metavar="S",
                   help="timeout of each HTTP request in seconds (default 10)")
    p.add_argument("--edition", choices=EDITIONS, default=None,
                   help="your organisation's DingTalk edition, which sets the call quota: "
                        "standard 20 calls/s, professional 40, exclusive 60 "
                        "(env DINGTALK_EDITION; default standard)")
    p.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    if json_output:
        p.add_argument("--format", choices=("text", "json"), default="text",
                       help="json: one JSON document on stdout, every notice on stderr")


def _recipient_flags(p: Parser, *, files: bool) -> None:
    if files:
        p.add_argument("--recipients", action="append", metavar="FILE",
                       help="one userid per line, or CSV with a userid/mobile column "
                            "(repeatable; - for standard input)")
        p.add_argument("--column", help="the CSV column holding userids or mobiles")
    p.add_argument("--user", action="append", metavar="USERID", help="a userid (repeatable)")
    if not files:
        p.add_argument("--mobile", action="append", metavar="MOBILE",
                       help="a mobile number, resolved to a userid (repeatable)")
    p.add_argument("--dept", action="append", type=positive_int, metavar="DEPT_ID",
                   help="a department id (repeatable)")
    p.add_argument("--to-all", action="store_true", help="everyone in the organisation")


def _send(sub: argparse._SubParsersAction[Parser]) -> None:
    send = _sub(sub, "send", "one notification to a few people")
    _common(send)
    _message_flags(send)
    _recipient_flags(send, files=False)
    send.add_argument("--wait", action="store_true", help="wait for delivery, print result")
    send.add_argument("--wait-timeout", type=seconds, default=300.0, metavar="S",
                      help="give up waiting after S seconds (default 300)")


def _broadcast(sub: argparse._SubParsersAction[Parser]) -> None:
    bc = _sub(sub, "broadcast", "notify many people from files, depts or everyone")
    _common(bc)
    _message_flags(bc)
    _recipient_flags(bc, files=True)
    bc.add_argument("--concurrency", type=positive_int, default=16, metavar="N",
                    help="calls in flight at most (default 16)")
    bc.add_argument("--rate", type=rate, default=0.0, metavar="PER_S",
                    help="an extra cap in calls per second, below the edition's quota "
                         "(default 0: the quota alone paces)")
    resend_flags(bc, when="with --wait, ")
    bc.add_argument("--timeout", type=seconds, metavar="S",
                    help="deadline of the whole broadcast in seconds")
    bc.add_argument("--journal", metavar="FILE.sqlite",
                    help="resumable journal: rerun the same command to send only what is left")
    bc.add_argument("--wait", action="store_true", help="wait for delivery, print result")
    bc.add_argument("--wait-timeout", type=seconds, default=600.0, metavar="S",
                    help="give up waiting after S seconds (default 600)")
    bc.add_argument("--poll-interval", type=seconds, default=1.0, metavar="S",
                    help="seconds between progress polls with --wait (default 1)")
    bc.add_argument("--out", metavar="FILE",
                    help="per-recipient status, .csv or .json (checked writable before sending)")


def _tasks(sub: argparse._SubParsersAction[Parser]) -> None:
    for name, text in (("progress", "delivery progress"), ("result", "delivery result"),
                       ("recall", "withdraw notifications")):
        task = _sub(sub, name, f"{text} of TASK_ID...")
        _common(task, json_output=name != "recall")
        task.add_argument("task_ids", nargs="+", type=positive_int, metavar="TASK_ID",
                          help="task ids printed by send or broadcast")


def _demo(sub: argparse._SubParsersAction[Parser]) -> None:
    demo = _sub(sub, "demo", "broadcast to 9,000 users on the embedded emulator, under "
                "DingTalk's limits")
    demo.add_argument("--users", type=positive_int, default=9_000,
                      help="size of the synthetic organisation (default 9000: DingTalk "
                           "delivers to 5,000 recipients a minute, so about 70 s)")
    demo.add_argument("--rate", type=rate, default=0.0,
                      help="an extra cap in calls per second (default 0: the quota alone)")
    demo.add_argument("--concurrency", type=positive_int, default=16, metavar="N",
                      help="calls in flight at most (default 16)")
    demo.add_argument("--edition", choices=EDITIONS, default="standard",
                      help="the emulated organisation's edition and the client's quota "
                           "(default standard: 20 calls/s)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the synthetic organisation")
    demo.add_argument("--quiet", action="store_true", help="no progress output on stderr")


def build_parser() -> Parser:
    """The ``dingnotify`` parser with every subcommand."""
    parser = Parser(prog="dingnotify", description=DESCRIPTION, epilog=EPILOG,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dingnotify {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="run `dingnotify COMMAND --help` for its flags")
    _send(sub)
    _broadcast(sub)
    _tasks(sub)
    _demo(sub)
    from ._robot_parser import add_robot_parser  # it imports this module's helpers

    add_robot_parser(sub)
    from ._card_parser import add_card_parser

    add_card_parser(sub)
    add_webhook_parser(sub)
    add_serve_parser(sub)
    sub.add_parser("emulator", help="serve the DingTalk emulator (see emulator --help)",
                   add_help=False)
    return parser
