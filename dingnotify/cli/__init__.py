"""The ``dingnotify`` command: bulk broadcasts, single sends, task queries, the emulator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial

import anyio

from . import _exitcodes as codes
from ._config import ConfigError, load_credentials
from ._display import say
from ._inputs import InputError
from ._journal import JournalError
from ._parser import build_parser
from ._sdk import CredentialsError, DingNotifyError, ValidationError
from ._signals import Terminated, until_terminated
from ._webhook import exit_code as webhook_exit_code

__all__ = ["build_parser", "main"]


async def _dispatch(args: argparse.Namespace) -> int:
    from ._broadcast import cmd_broadcast
    from ._commands import cmd_send, cmd_tasks
    from ._demo import cmd_demo

    if args.command == "demo":
        return await cmd_demo(args)
    if args.command == "webhook":
        from ._webhook import cmd_webhook

        return await cmd_webhook(args)
    if args.command == "robot":
        from ._robot import cmd_robot

        return await cmd_robot(args)
    if args.command == "card":
        from ._card import cmd_card

        return await cmd_card(args)
    creds = load_credentials(args.config, base_url=args.base_url, agent_id=args.agent_id)
    if creds.agent_id is None:
        raise ConfigError("no agent id: set DINGTALK_AGENT_ID or pass --agent-id")
    if args.command == "send":
        return await cmd_send(args, creds)
    if args.command == "broadcast":
        return await cmd_broadcast(args, creds)
    return await cmd_tasks(args, creds)


def _first_error(exc: BaseException) -> BaseException:
    """The first leaf of (nested) exception groups; ``exc`` itself otherwise."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _exit_code(exc: BaseException) -> int | None:
    """Say what went wrong in one line on stderr; the exit code, or None to re-raise."""
    webhook = webhook_exit_code(exc)
    if webhook is not None:
        return webhook
    if isinstance(exc, InputError | ValidationError | JournalError):
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
    if isinstance(exc, Terminated):
        say(f"dingnotify: {exc}", err=True)
        return codes.TERMINATED
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (see ``_exitcodes``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        from ._demo import cmd_emulator

        return cmd_emulator(argv[1:])
    parser = build_parser()
    if not argv:  # what a first try deserves: the commands, not "arguments are required"
        parser.print_help()
        return codes.USAGE
    args = parser.parse_args(argv)
    if args.command == "serve":
        from ._serve import run_serve

        return run_serve(args)
    try:
        return anyio.run(until_terminated, partial(_dispatch, args))
    except BaseException as caught:
        code = _exit_code(_first_error(caught))
        if code is None:
            raise
        return code
