"""``dingnotify webhook``: one message to a group through a custom robot's webhook.

The URL and secret may come from ``DINGTALK_WEBHOOK_URL`` / ``DINGTALK_WEBHOOK_SECRET``,
which keeps them out of shell history and the process list.
"""

from __future__ import annotations

import argparse
import os
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import anyio

from . import _exitcodes as codes
from ._display import say
from ._inputs import InputError
from ._sdk import (
    DEFAULT_MAX_PARTS,
    DingNotifyError,
    ValidationError,
    WebhookMarkdown,
    WebhookMessage,
    WebhookRejectedError,
    WebhookRobot,
    WebhookText,
    WebhookTokenNotFoundError,
)
from ._signals import Terminated, until_terminated

URL_ENV = "DINGTALK_WEBHOOK_URL"
SECRET_ENV = "DINGTALK_WEBHOOK_SECRET"


def add_webhook_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Register the ``webhook`` subcommand on the main parser."""
    p = sub.add_parser("webhook", help="send to a group through a custom robot's webhook")
    p.add_argument("--url", help=f"the robot's webhook URL (default: ${URL_ENV})")
    p.add_argument("--secret", help=f"the robot's signing secret (default: ${SECRET_ENV})")
    p.error = _one_line_error
    p.add_argument("--text", help="a text message")
    p.add_argument("--markdown", metavar="FILE", help="a markdown message read from FILE")
    p.add_argument("--title", help="title of a --markdown message")
    p.add_argument("--at-mobile", action="append", default=[], metavar="MOBILE",
                   help="mention this mobile number (repeatable)")
    p.add_argument("--at-all", action="store_true", help="mention everyone in the group")
    p.add_argument("--split", action="store_true",
                   help="send a message over 20,000 bytes as numbered parts")
    p.add_argument("--max-parts", type=_parts, default=DEFAULT_MAX_PARTS, metavar="N",
                   help="refuse, sending nothing, a --split message that needs more than N "
                        f"parts (default {DEFAULT_MAX_PARTS})")
    p.add_argument("--request-timeout", type=float, default=10.0, metavar="S",
                   help="timeout of each HTTP request in seconds (default 10)")


def _parts(text: str) -> int:
    """``--max-parts``: a positive whole number."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _one_line_error(message: str) -> NoReturn:
    """Bad flags: one line on stderr and exit 2, like every other input error here."""
    say(f"dingnotify webhook: error: {message}", err=True)
    raise SystemExit(codes.USAGE)


def _message(args: argparse.Namespace) -> WebhookMessage:
    if args.text is not None and args.markdown is not None:
        raise InputError("give --text or --markdown, not both")
    if args.text is not None:
        if args.title is not None:
            raise InputError("--title goes with --markdown, not --text")
        return WebhookText(content=args.text)
    if args.markdown is None:
        raise InputError("give --text or --markdown FILE")
    if not args.title:
        raise InputError("--markdown needs --title")
    try:
        text = Path(args.markdown).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {args.markdown}: {exc.__class__.__name__}") from None
    return WebhookMarkdown(title=args.title, text=text)


async def _send(args: argparse.Namespace, message: WebhookMessage) -> int:
    url = args.url or os.environ.get(URL_ENV, "")
    secret = args.secret or os.environ.get(SECRET_ENV) or None
    if not url:
        raise InputError(f"no webhook URL: pass --url or set {URL_ENV}")
    robot = WebhookRobot(url, secret, timeout=args.request_timeout)
    del url, secret
    async with robot:
        return await robot.send(message, at_mobiles=args.at_mobile, at_all=args.at_all,
                                split=args.split, max_parts=args.max_parts)


def run_webhook(args: argparse.Namespace) -> int:
    """Run the subcommand; returns an exit code and prints one line on failure."""
    try:
        sent = anyio.run(until_terminated, partial(_send, args, _message(args)))
    except (InputError, ValidationError) as exc:
        say(f"dingnotify: error: {exc}", err=True)
        return codes.USAGE
    except (WebhookRejectedError, WebhookTokenNotFoundError) as exc:
        say(f"dingnotify: credentials: {type(exc).__name__}: {exc}", err=True)
        return codes.CREDENTIALS
    except DingNotifyError as exc:
        say(f"dingnotify: {type(exc).__name__}: {exc}", err=True)
        return codes.API_ERROR
    except KeyboardInterrupt:
        say("dingnotify: interrupted", err=True)
        return codes.INTERRUPTED
    except Terminated as exc:
        say(f"dingnotify: {exc}", err=True)
        return codes.TERMINATED
    say(f"sent {sent} message{'s' if sent != 1 else ''}")
    return codes.OK
