"""``dingnotify webhook``: one message to a group through a custom robot's webhook.

The URL and secret may come from ``DINGTALK_WEBHOOK_URL`` / ``DINGTALK_WEBHOOK_SECRET``, the
config file or ``--secret-file``, which keep them out of shell history and the process list.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import _exitcodes as codes
from ._config import SETTINGS, load_settings
from ._display import say
from ._inputs import InputError, read_file
from ._sdk import (
    DEFAULT_MAX_PARTS,
    WebhookMarkdown,
    WebhookMessage,
    WebhookRejectedError,
    WebhookRobot,
    WebhookText,
    WebhookTokenNotFoundError,
)

URL_ENV = SETTINGS["webhook_url"]
SECRET_ENV = SETTINGS["webhook_secret"]
HELP = "send to a group through a custom robot's webhook"
EPILOG = f"""\
environment:
  {URL_ENV}     the robot's webhook URL (--url wins)
  {SECRET_ENV}  its signing secret (--secret-file, --secret win)
  DINGNOTIFY_CONFIG        config file with webhook_url, webhook_secret under [dingtalk]
  The environment wins over the config file; flags win over both.

{codes.EPILOG}
  The webhook's answers: a signature, timestamp, IP or unknown-token refusal exits 3; a
  message without the robot's keyword exits 2."""


def add_webhook_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Register the ``webhook`` subcommand on the main parser."""
    p = sub.add_parser("webhook", help=HELP, description=HELP, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help=f"the robot's webhook URL (env {URL_ENV})")
    secret = p.add_mutually_exclusive_group()
    secret.add_argument("--secret-file", metavar="FILE",
                        help="read the robot's signing secret from FILE (- for standard input)")
    secret.add_argument("--secret", help=f"the robot's signing secret (env {SECRET_ENV}); "
                                         "shows in the process list: prefer --secret-file")
    p.add_argument("--config", metavar="FILE",
                   help="TOML file with [dingtalk] webhook_url/webhook_secret "
                        "(env DINGNOTIFY_CONFIG)")
    p.add_argument("--text", help="a text message")
    p.add_argument("--markdown", metavar="FILE",
                   help="a markdown message read from FILE (- for standard input)")
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
    return WebhookMarkdown(title=args.title, text=read_file(args.markdown))


def _robot(args: argparse.Namespace) -> WebhookRobot:
    """The robot: flags, else the environment, else the config file."""
    _, settings = load_settings(args.config)
    url = args.url or settings.get("webhook_url", "")
    if args.secret_file is not None:
        secret: str | None = read_file(args.secret_file).strip() or None
        if secret is None:
            raise InputError(f"--secret-file {args.secret_file} is empty")
    else:
        secret = args.secret or settings.get("webhook_secret") or None
    if not url:
        raise InputError(f"no webhook URL: pass --url, set {URL_ENV} or put webhook_url "
                         "in the config file")
    return WebhookRobot(url, secret, timeout=args.request_timeout)


async def cmd_webhook(args: argparse.Namespace) -> int:
    """``dingnotify webhook``: errors are mapped to exit codes by ``exit_code`` below."""
    message = _message(args)
    async with _robot(args) as robot:
        sent = await robot.send(message, at_mobiles=args.at_mobile, at_all=args.at_all,
                                split=args.split, max_parts=args.max_parts)
    say(f"sent {sent} message{'s' if sent != 1 else ''}")
    return codes.OK


def exit_code(exc: BaseException) -> int | None:
    """A webhook answer's exit code and its one line on stderr; None if not the webhook's.
    A keyword miss is the message's fault (2); the other refusals are credentials (3)."""
    if isinstance(exc, WebhookRejectedError) and exc.reason == "keywords":
        say(f"dingnotify: error: the message lacks the robot's keyword: {exc}", err=True)
        return codes.USAGE
    if isinstance(exc, WebhookRejectedError | WebhookTokenNotFoundError):
        say(f"dingnotify: credentials: {type(exc).__name__}: {exc}", err=True)
        return codes.CREDENTIALS
    return None
