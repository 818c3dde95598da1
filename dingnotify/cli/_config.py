"""Credentials from the environment or a TOML config file; never printed, never journaled."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .._constants import DEFAULT_BASE_URL

ENV_KEY, ENV_SECRET, ENV_AGENT = "DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_AGENT_ID"
ENV_BASE_URL, ENV_CONFIG = "DINGTALK_BASE_URL", "DINGNOTIFY_CONFIG"
DEFAULT_CONFIG = Path("~/.config/dingnotify/config.toml")


class ConfigError(Exception):
    """Credentials missing or malformed (exit code 3)."""


@dataclass(frozen=True)
class Credentials:
    app_key: str
    app_secret: str = field(repr=False)
    agent_id: int | None
    base_url: str


def load_credentials(
    config: str | None = None, *, base_url: str | None = None, agent_id: int | None = None
) -> Credentials:
    """Environment wins over the config file; flags win over both."""
    values: dict[str, object] = {}
    path = Path(config or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG).expanduser()
    if path.is_file():
        try:
            values.update(tomllib.loads(path.read_text("utf-8")).get("dingtalk", {}))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    elif config:
        raise ConfigError(f"config file {config} does not exist")
    for env, key in ((ENV_KEY, "app_key"), (ENV_SECRET, "app_secret"), (ENV_AGENT, "agent_id"),
                     (ENV_BASE_URL, "base_url")):
        if os.environ.get(env):
            values[key] = os.environ[env]
    app_key, app_secret = values.get("app_key"), values.get("app_secret")
    if not isinstance(app_key, str) or not app_key or not isinstance(app_secret, str) or not (
        app_secret
    ):
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
    return Credentials(
        app_key=app_key,
        app_secret=app_secret,
        agent_id=agent,
        base_url=base_url or str(values.get("base_url") or DEFAULT_BASE_URL),
    )
