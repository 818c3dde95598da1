"""Credentials from the environment or a TOML config file; never printed, never journaled."""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ._display import say
from ._inputs import InputError
from ._sdk import DEFAULT_BASE_URL

ENV_KEY, ENV_SECRET, ENV_AGENT = "DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_AGENT_ID"
ENV_BASE_URL, ENV_CONFIG = "DINGTALK_BASE_URL", "DINGNOTIFY_CONFIG"

# Every setting: its key under [dingtalk] in the config file and its environment variable.
SETTINGS = {
    "app_key": ENV_KEY,
    "app_secret": ENV_SECRET,
    "agent_id": ENV_AGENT,
    "base_url": ENV_BASE_URL,
    "edition": "DINGTALK_EDITION",
    "robot_code": "DINGTALK_ROBOT_CODE",
    "api_base_url": "DINGTALK_API_BASE_URL",
    "webhook_url": "DINGTALK_WEBHOOK_URL",
    "webhook_secret": "DINGTALK_WEBHOOK_SECRET",
}
SECRETS = ("app_secret", "webhook_secret")

ENV_DOC = f"""\
environment:
  {ENV_KEY}     the app's key (AppKey)
  {ENV_SECRET}  the app's secret (AppSecret); never printed or journaled
  {ENV_AGENT}    the app's agent id (--agent-id wins)
  {ENV_BASE_URL}    API root (--base-url wins), default {DEFAULT_BASE_URL}
  DINGTALK_EDITION     standard, professional or exclusive: the call quota (--edition wins)
  DINGTALK_WEBHOOK_URL, DINGTALK_WEBHOOK_SECRET   the webhook command's robot
  DINGTALK_ROBOT_CODE, DINGTALK_API_BASE_URL   the robot commands' robot code and API root
                       (--robot-code, --api-base-url win; default https://api.dingtalk.com)
  {ENV_CONFIG}    config file (--config wins), default
                       $XDG_CONFIG_HOME/dingnotify/config.toml (~/.config if unset)
  The config file takes every setting above under [dingtalk], as app_key, app_secret,
  agent_id, base_url, edition, robot_code, api_base_url, webhook_url, webhook_secret;
  the environment wins over it, flags win over both."""


class ConfigError(Exception):
    """Credentials missing or rejected (exit code 3)."""


class ConfigFileError(InputError):
    """The config file is unreadable or not the expected TOML (exit code 2)."""


@dataclass(frozen=True)
class Credentials:
    """What a client needs; ``app_secret`` is kept out of the repr. ``edition``,
    ``robot_code`` and ``api_base_url`` are the environment's or the file's (flags win)."""

    app_key: str
    app_secret: str = field(repr=False)
    agent_id: int | None
    base_url: str
    edition: str | None = None
    robot_code: str | None = None
    api_base_url: str | None = None


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/dingnotify/config.toml``, or under ``~/.config``."""
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "dingnotify" / "config.toml"


def _read_config(path: Path, others: tuple[str, ...] = ()) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigFileError(f"{path}: not valid TOML ({exc})") from None
    section = data.get("dingtalk", {})
    if not isinstance(section, dict):
        raise ConfigFileError(f"{path}: [dingtalk] must be a table of settings")
    unknown = [f"[{k}]" for k in data if k != "dingtalk" and k not in others]
    unknown += [k for k in section if k not in SETTINGS]
    if unknown:
        raise ConfigFileError(f"{path}: unknown setting(s) {', '.join(unknown)}; "
                              f"[dingtalk] takes {', '.join(SETTINGS)}")
    values: dict[str, str] = {}
    for key, value in section.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ConfigFileError(f"{path}: {key} must be a string or a whole number")
        values[key] = str(value)
    held = [key for key in SECRETS if key in values]
    if held:
        _warn_if_readable(path, " and ".join(held))
    return values


def _warn_if_readable(path: Path, held: str) -> None:
    """Like ssh: a secret others can read is a secret others have (POSIX modes only)."""
    if os.name == "nt":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        say(f"dingnotify: warning: {path} holds {held} and is readable by others "
            f"(mode {mode:03o}); run chmod 600 {path}", err=True)


def load_settings(config: str | None = None, *, others: tuple[str, ...] = ()
                  ) -> tuple[Path, dict[str, str]]:
    """The config file's path and every setting: the environment's over the file's.
    ``others`` are tables another reader of the same file owns (the relay's)."""
    path = Path(config or os.environ.get(ENV_CONFIG) or default_config_path()).expanduser()
    if path.is_file():
        values = _read_config(path, others)
    elif config:
        raise ConfigFileError(f"config file {config} does not exist")
    else:
        values = {}
    for key, env in SETTINGS.items():
        if os.environ.get(env):
            values[key] = os.environ[env]
    return path, values


def load_credentials(
    config: str | None = None, *, base_url: str | None = None, agent_id: int | None = None,
    others: tuple[str, ...] = (),
) -> Credentials:
    """Environment wins over the config file; flags win over both."""
    path, values = load_settings(config, others=others)
    app_key, app_secret = values.get("app_key"), values.get("app_secret")
    if not (app_key and app_secret):
        raise ConfigError(
            f"no credentials: set {ENV_KEY} and {ENV_SECRET} (and {ENV_AGENT}), "
            f"or put app_key/app_secret/agent_id under [dingtalk] in {path}"
        )
    agent = agent_id if agent_id is not None else values.get("agent_id")
    if agent is not None:
        try:
            agent = int(str(agent))
        except ValueError:
            raise ConfigError(f"agent_id must be a number, got {agent!r}") from None
    return Credentials(app_key=app_key, app_secret=app_secret, agent_id=agent,
                       base_url=base_url or values.get("base_url") or DEFAULT_BASE_URL,
                       edition=values.get("edition"), robot_code=values.get("robot_code"),
                       api_base_url=values.get("api_base_url"))
