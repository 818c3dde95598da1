"""Flags of ``dingnotify card send|update|broadcast`` (interactive cards)."""

from __future__ import annotations

import argparse

from ._parser import EPILOG, Parser, positive_int, seconds
from ._robot_parser import _common
from ._sdk import SPACES_PER_CARD

CARD_EPILOG = (EPILOG + "\n  card: recipients a card could not reach exit 4; a template that "
               "is missing or unpublished exits 5.")


def _sub(sub: argparse._SubParsersAction[Parser], name: str, text: str) -> Parser:
    return sub.add_parser(name, help=text, description=text, epilog=CARD_EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _data(p: Parser, required: bool) -> None:
    p.add_argument("--data", required=required, metavar="JSON",
                   help="card variables as a JSON object, or @FILE holding one "
                        "(non-string values are JSON-encoded)")


def add_card_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """Register ``card`` and its three subcommands on the main parser."""
    card = sub.add_parser(
        "card", help="interactive cards through the app's enterprise robot",
        description="Interactive cards (new-generation API): deliver one, update it, or "
                    "broadcast one card per few users.",
        epilog=CARD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = card.add_subparsers(dest="card_command", required=True, metavar="COMMAND",
                                   help="run `dingnotify card COMMAND --help` for its flags")

    send = _sub(commands, "send", f"one card to at most {SPACES_PER_CARD} users and/or a group")
    _common(send)
    send.add_argument("template", metavar="TEMPLATE_ID", help="a published card template")
    send.add_argument("--id", required=True, metavar="OUT_TRACK_ID",
                      help="the card's id: sending it again never makes a second card")
    _data(send, True)
    send.add_argument("--user", action="append", metavar="USERID",
                      help="a userid (repeatable)")
    send.add_argument("--group", metavar="OPEN_CONVERSATION_ID", help="a group chat")
    send.add_argument("--callback", choices=("stream", "http", "none"), default="stream",
                      help="where clicks go (default stream; http needs --route-key)")
    send.add_argument("--route-key", metavar="KEY", help="the HTTP callback's route key")

    update = _sub(commands, "update", "change a card where it was delivered")
    _common(update)
    update.add_argument("id", metavar="OUT_TRACK_ID", help="the card's id")
    _data(update, True)
    update.add_argument("--replace", action="store_true",
                        help="overwrite the card's data instead of merging by key")

    bc = _sub(commands, "broadcast", f"a card to many users, {SPACES_PER_CARD} per card")
    _common(bc)
    bc.add_argument("template", metavar="TEMPLATE_ID", help="a published card template")
    bc.add_argument("--id-prefix", required=True, metavar="PREFIX",
                    help="card ids are PREFIX-0, PREFIX-1, ...: rerun with the same prefix "
                         "and nothing is delivered twice")
    _data(bc, True)
    bc.add_argument("--recipients", action="append", metavar="FILE",
                    help="one userid per line, or CSV with a userid/mobile column (repeatable)")
    bc.add_argument("--column", help="the CSV column holding userids or mobiles")
    bc.add_argument("--user", action="append", metavar="USERID", help="a userid (repeatable)")
    bc.add_argument("--size", type=positive_int, default=SPACES_PER_CARD, metavar="N",
                    help=f"users per card (default {SPACES_PER_CARD})")
    bc.add_argument("--concurrency", type=positive_int, default=16, metavar="N",
                    help="calls in flight at most (default 16)")
    bc.add_argument("--timeout", type=seconds, metavar="S",
                    help="deadline of the whole broadcast in seconds")
    bc.add_argument("--journal", metavar="FILE.sqlite",
                    help="resumable journal: rerun the same command to send only what is left")
    bc.add_argument("--out", metavar="FILE",
                    help="per-recipient status, .csv or .json (checked writable before sending)")
