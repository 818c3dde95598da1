"""``python -m dingnotify.testing``: run the emulator as a separate process.

Prints the URL and the synthetic credentials (test values, safe to show) then serves until
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys

from ._app import Emulator
from ._faults import Fault, FaultPlan
from ._org import Org
from ._ratelimit import PROFILES


def build_parser(prog: str = "python -m dingnotify.testing") -> argparse.ArgumentParser:
    """The emulator's flags; ``prog`` is the name the help shows (``dingnotify emulator``)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Offline DingTalk server emulator: serves the oapi, TOP, "
        "new-generation robot and group webhook APIs with synthetic credentials until "
        "Ctrl-C or SIGTERM.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on "
                        "(default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787,
                        help="port to listen on (default 8787; 0 picks a free port)")
    parser.add_argument("--users", type=int, default=200, help="synthetic users (u000001..)")
    parser.add_argument("--depts", type=int, default=None, help="departments incl. the root")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="unlimited",
                        help="DingTalk edition limits to enforce (realistic = professional)")
    parser.add_argument("--idle-timeout", type=float, default=20.0,
                        help="close idle or half-sent connections after this many seconds")
    parser.add_argument("--ban-style", choices=("json", "html"), default="json",
                        help="how the per-IP ban answers")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the synthetic organisation, codes and faults (default 0)")
    parser.add_argument("--progress-seconds", type=float, default=0.0,
                        help="seconds a send task takes to finish delivering (default 0)")
    parser.add_argument("--read-ratio", type=float, default=0.0,
                        help="share of delivered recipients reported as having read (0-1)")
    parser.add_argument("--lean", action="store_true",
                        help="benchmark mode: no request recording or inboxes")
    parser.add_argument("--fault", action="append", default=[], type=parse_fault,
                        metavar="KIND[:PROBABILITY[:PATH]]",
                        help="inject a fault, e.g. http_503:0.1 or errcode_90018:0.05:"
                             "/topapi/message/corpconversation/asyncsend_v2 (repeatable; "
                             "path defaults to every path, probability to 1)")
    parser.add_argument("--webhook-robot", action="append", default=[], type=parse_webhook,
                        metavar="TOKEN[:SECRET]",
                        help="host a group webhook robot with this access token (and "
                             "signing secret) at /robot/send (repeatable)")
    return parser


def parse_webhook(text: str) -> tuple[str, str | None]:
    """``TOKEN[:SECRET]`` -> ``(token, secret or None)`` (argparse type)."""
    token, _, secret = text.partition(":")
    if not token:
        raise argparse.ArgumentTypeError(f"bad --webhook-robot {text!r}: no token")
    return token, secret or None


def parse_fault(text: str) -> Fault:
    """``KIND[:PROBABILITY[:PATH]]`` -> a ``Fault`` (argparse type)."""
    kind, _, rest = text.partition(":")
    probability, _, path = rest.partition(":")
    try:
        return Fault(path=path or "*", kind=kind, probability=float(probability or 1.0))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad --fault {text!r}: {exc}") from None


def describe(emu: Emulator) -> str:
    app, top = emu.app, emu.top_app
    return "\n".join([
        f"DingTalk emulator listening on {emu.url}",
        f"  oapi base_url : {emu.url}",
        f"  TOP gateway   : {emu.top_url}",
        f"  app_key       : {app.app_key}",
        f"  app_secret    : {app.app_secret}   (synthetic test value)",
        f"  agent_id      : {app.agent_id}",
        f"  robot_code    : {emu.robot_code}   (the app's enterprise robot)",
        f"  TOP app_key   : {top.app_key}  secret: {top.app_secret}",
        f"  users         : {len(emu.org.users):,}  depts: {len(emu.org.depts):,}  "
        f"profile: {emu.limits}",
        *(f"  webhook robot : {emu.webhook_url(token)}"
          f"{'  (signed)' if robot.secret else ''}"
          for token, robot in emu.webhook_robots.robots.items()),
        "Press Ctrl-C to stop.",
    ])


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Serve until Ctrl-C; 2 if the address cannot be bound."""
    args = (build_parser() if prog is None else build_parser(prog)).parse_args(argv)
    org = Org.synthetic(n_users=args.users, depts=args.depts, seed=args.seed)
    faults = FaultPlan(seed=args.seed, rules=args.fault) if args.fault else None
    emu = Emulator(org, profile=args.profile, seed=args.seed, lean=args.lean, faults=faults,
                   progress_seconds=args.progress_seconds, read_ratio=args.read_ratio,
                   host=args.host, port=args.port, idle_timeout=args.idle_timeout,
                   ban_style=args.ban_style)
    for token, secret in args.webhook_robot:
        emu.add_webhook_robot(token, secret)
    try:
        emu.run_forever(on_ready=lambda e: print(describe(e), flush=True))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"emulator: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
