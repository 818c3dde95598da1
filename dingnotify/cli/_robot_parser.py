"""Flags of ``dingnotify robot send|broadcast|status|recall`` (the enterprise robot)."""

from __future__ import annotations

import argparse

from ._parser import EPILOG, Parser, positive_int, rate, resend_flags, seconds
from ._sdk import EDITIONS, Robot

ROBOT_EPILOG = (EPILOG + "\n  robot: no agent id needed; a missing robot code exits 3; users "
                "DingTalk answers as invalid,\n  filtered or still flow-controlled exit 4.")


def _sub(sub: argparse._SubParsersAction[Parser], name: str, text: str) -> Parser:
    return sub.add_parser(name, help=text, description=text, epilog=ROBOT_EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _common(p: Parser) -> None:
    p.add_argument("--robot-code", metavar="CODE",
                   help="the enterprise robot's code (env DINGTALK_ROBOT_CODE)")
    p.add_argument("--api-base-url", metavar="URL",
                   help="new-generation API root, e.g. an emulator's URL "
                        "(env DINGTALK_API_BASE_URL; default https://api.dingtalk.com)")
    p.add_argument("--base-url", help="old API root, used to resolve mobiles "
                                      "(env DINGTALK_BASE_URL)")
    p.add_argument("--config", metavar="FILE",
                   help="TOML file with [dingtalk] app_key/app_secret (env DINGNOTIFY_CONFIG)")
    p.add_argument("--request-timeout", type=seconds, default=10.0, metavar="S",
                   help="timeout of each HTTP request in seconds (default 10)")
    p.add_argument("--edition", choices=EDITIONS, default=None,
                   help="your organisation's DingTalk edition, which sets the call quota "
                        "(env DINGTALK_EDITION; default standard)")
    p.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: one JSON document on stdout, every notice on stderr")


def _message(p: Parser) -> None:
    p.add_argument("--text", help="a text message (sampleText)")
    p.add_argument("--markdown", metavar="FILE",
                   help="a markdown message read from FILE, - for standard input "
                        "(sampleMarkdown)")
    p.add_argument("--title", help="title of a --markdown message (the chat list preview)")


def add_robot_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """Register ``robot`` and its four subcommands on the main parser."""
    robot = sub.add_parser(
        "robot", help="one-to-one messages from the app's enterprise robot",
        description="One-to-one messages from the app's enterprise robot (new-generation API): "
                    "send, broadcast, read status, recall.",
        epilog=ROBOT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = robot.add_subparsers(dest="robot_command", required=True, metavar="COMMAND",
                                    help="run `dingnotify robot COMMAND --help` for its flags")

    per_call = Robot.userids_per_call
    send = _sub(commands, "send", f"one robot message to at most {per_call} users")
    _common(send)
    _message(send)
    send.add_argument("--user", action="append", metavar="USERID",
                      help=f"a userid (repeatable, at most {per_call})")

    bc = _sub(commands, "broadcast", f"a robot message to many users, {per_call} per call")
    _common(bc)
    _message(bc)
    bc.add_argument("--recipients", action="append", metavar="FILE",
                    help="one userid per line, or CSV with a userid/mobile column "
                         "(repeatable; - for standard input)")
    bc.add_argument("--column", help="the CSV column holding userids or mobiles")
    bc.add_argument("--user", action="append", metavar="USERID", help="a userid (repeatable)")
    bc.add_argument("--concurrency", type=positive_int, default=16, metavar="N",
                    help="calls in flight at most (default 16)")
    bc.add_argument("--rate", type=rate, default=0.0, metavar="PER_S",
                    help="an extra cap in calls per second (default 0: the quota alone paces)")
    bc.add_argument("--timeout", type=seconds, metavar="S",
                    help="deadline of the whole broadcast in seconds")
    resend_flags(bc, when="")
    bc.add_argument("--journal", metavar="FILE.sqlite",
                    help="resumable journal: rerun the same command to send only what is left")
    bc.add_argument("--out", metavar="FILE",
                    help="per-recipient status, .csv or .json (checked writable before sending)")

    for name, text in (("status", "send status and who read each message"),
                       ("recall", "withdraw one-to-one robot messages")):
        p = _sub(commands, name, f"{text} (KEY...)")
        _common(p)
        p.add_argument("keys", nargs="+", metavar="KEY",
                       help="processQueryKeys printed by robot send or broadcast")
