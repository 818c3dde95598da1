"""``dingnotify serve``: the relay (``dingnotify.relay``) as a command.

Credentials come as for every command: flags, then ``DINGTALK_*`` variables, then the
``[dingtalk]`` table of the relay's own ``--config`` file.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

import anyio

from . import _exitcodes as codes
from ._config import ENV_DOC, ConfigError, load_credentials
from ._display import say
from ._inputs import InputError
from ._sdk import (
    DingTalkClient,
    Governor,
    QueueError,
    Relay,
    RelayConfigError,
    ValidationError,
    load_config,
    quota_for,
    redis_coordination,
)
from ._signals import Terminated, until_terminated

if TYPE_CHECKING:
    from ._sdk import RedisCoordination, RelayConfig

EXIT_CODES = """\
exit codes:
  0    stopped by SIGTERM or Ctrl-C after a clean shutdown (the queue keeps what is left)
  2    bad flags, an unusable relay.toml (routes, tokens, templates, a missing
       environment variable) or a queue file that cannot be opened
  3    credentials missing (app key / secret / agent id)
  5    cannot listen on --listen (address in use, not allowed)"""

RELAY_DOC = """\
relay.toml:
  [relay]   queue = "relay.sqlite"   token_env = "RELAY_TOKEN"
            body_limit = 1048576   queue_limit = 100000   allow_recipients = {...}
  [[token]] env = "CI_TOKEN"   allow_recipients = { userids = [...] }   (more tokens)
  [[route]] name, match = {label = "value"}, one of work_notice = {userids, dept_ids,
            mobiles} | robot = {userids} | webhook = {url_env, secret_env}, template
  [templates] name = "file.md"   (for POST /notify {"template": name, "data": {...}})
  [dingtalk] app_key, app_secret, agent_id, base_url   (as in every command's config
            file, which is read instead when relay.toml has no [dingtalk] table)
  File names (queue, templates) are relative to relay.toml's directory.
endpoints: POST /alertmanager, POST /notify, GET /notifications/{id}, GET /healthz,
  GET /metrics; every request needs Authorization: Bearer <token>."""


def add_serve_parser(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``serve`` on the main parser."""
    p = sub.add_parser(
        "serve", help="a durable notification relay for Alertmanager and any HTTP client",
        description="Accept notifications over HTTP (Alertmanager's webhook, POST /notify), "
                    "commit them to a sqlite queue, and deliver them under DingTalk's quotas.",
        epilog=f"{RELAY_DOC}\n\n{ENV_DOC}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.error = _one_line_error
    p.add_argument("--config", required=True, metavar="relay.toml",
                   help="the relay's configuration (queue, tokens, routes, templates)")
    p.add_argument("--listen", type=_listen, default=("127.0.0.1", 9095), metavar="HOST:PORT",
                   help="address to serve on (default 127.0.0.1:9095)")
    p.add_argument("--redis", metavar="URL", help="share the token and quotas with other "
                   "replicas of this app through Redis (each keeps its own queue)")
    p.add_argument("--base-url", help="API root, e.g. an emulator's URL (env DINGTALK_BASE_URL)")
    p.add_argument("--api-base-url", help="new-generation API root for robot routes "
                   "(env DINGTALK_API_BASE_URL)")
    p.add_argument("--robot-code", help="the robot of robot routes (env DINGTALK_ROBOT_CODE)")
    p.add_argument("--agent-id", type=_whole, metavar="ID",
                   help="the app's agent id (env DINGTALK_AGENT_ID)")
    p.add_argument("--edition", choices=("standard", "professional", "exclusive"),
                   help="the call quota of your DingTalk edition (env DINGTALK_EDITION; "
                        "default standard)")
    p.add_argument("--request-timeout", type=_positive, default=10.0, metavar="S",
                   help="timeout of each HTTP request to DingTalk in seconds (default 10)")
    p.add_argument("--concurrency", type=_whole, default=8, metavar="N",
                   help="notifications sent at once (default 8)")


def _whole(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _one_line_error(message: str) -> NoReturn:
    say(f"dingnotify serve: error: {message}", err=True)
    raise SystemExit(codes.USAGE)


RELAY_TABLES = ("relay", "route")
"""relay.toml's own tables: the credentials reader leaves them to ``load_config``."""


def _credentials_file(relay_toml: str) -> str | None:
    """relay.toml when it has a ``[dingtalk]`` table, else every command's config file."""
    with open(relay_toml, "rb") as file:  # load_config read it already: it is valid TOML
        return relay_toml if "dingtalk" in tomllib.load(file) else None


async def _serve(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    creds = load_credentials(_credentials_file(args.config), base_url=args.base_url,
                             agent_id=args.agent_id, others=RELAY_TABLES)
    if creds.agent_id is None:
        raise ConfigError("no agent id: set DINGTALK_AGENT_ID or pass --agent-id")
    robot_code = args.robot_code or os.environ.get("DINGTALK_ROBOT_CODE") or None
    if robot_code is None and any(r.channel == "robot" for r in config.routes):
        raise InputError("robot routes need a robot: pass --robot-code or set "
                         "DINGTALK_ROBOT_CODE")
    coordination = redis_coordination(args.redis) if args.redis else None
    edition = args.edition or os.environ.get("DINGTALK_EDITION") or None
    quota = quota_for(edition)
    # Without Redis the governor is built here, so /metrics can show its waits.
    governor = None if coordination is not None else Governor(quota)
    client = DingTalkClient(
        creds.app_key, creds.app_secret, agent_id=creds.agent_id, base_url=creds.base_url,
        api_base_url=args.api_base_url or os.environ.get("DINGTALK_API_BASE_URL")
        or "https://api.dingtalk.com",
        robot_code=robot_code,
        timeout=args.request_timeout, quota=governor or quota, coordination=coordination)
    try:
        await _run(client, config, args, coordination, governor)
    finally:
        if coordination is not None:
            await coordination.aclose()


async def _run(client: DingTalkClient, config: RelayConfig, args: argparse.Namespace,
               coordination: RedisCoordination | None, governor: Governor | None) -> None:
    host, port = args.listen
    async with client, Relay(config, client, host=host, port=port,
                             coordination=coordination, concurrency=args.concurrency,
                             governor=governor) as relay:
        say(f"dingnotify serve: listening on {relay.url}", err=True)
        await relay.wait()


def run_serve(args: argparse.Namespace) -> int:
    """Run until stopped; one line and an exit code on failure, never a traceback."""
    try:
        anyio.run(until_terminated, partial(_serve, args))
    except (RelayConfigError, QueueError, InputError, ValidationError) as exc:
        say(f"dingnotify serve: error: {exc}", err=True)
        return codes.USAGE
    except ConfigError as exc:
        say(f"dingnotify serve: credentials: {exc}", err=True)
        return codes.CREDENTIALS
    except OSError as exc:
        say(f"dingnotify serve: cannot listen on {args.listen[0]}:{args.listen[1]}: "
            f"{exc.strerror or exc}", err=True)
        return codes.API_ERROR
    except (KeyboardInterrupt, Terminated):
        say("dingnotify serve: stopped", err=True)
    return codes.OK
