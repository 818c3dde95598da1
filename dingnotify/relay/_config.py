"""``relay.toml``: the queue, the bearer tokens, the routes and the templates, checked once.

Targets (webhook URLs and secrets, recipients) come only from here and the environment: a
request can name a route or recipients, never a URL, host or credential.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._template import Template, TemplateError

CHANNELS = ("work_notice", "robot", "webhook")
DEFAULT_BODY_LIMIT = 1 << 20
DEFAULT_QUEUE_LIMIT = 100_000


class RelayConfigError(Exception):
    """The relay's configuration is unusable (one line, exit code 2)."""


@dataclass(frozen=True)
class Recipients:
    """Who a work notice or robot message goes to."""

    userids: tuple[str, ...] = ()
    dept_ids: tuple[int, ...] = ()
    mobiles: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[Any]]:
        return {"userids": list(self.userids), "dept_ids": list(self.dept_ids),
                "mobiles": list(self.mobiles)}

    def covers(self, other: Recipients) -> bool:
        """Whether every recipient of ``other`` is allowed here."""
        return (set(other.userids) <= set(self.userids)
                and set(other.dept_ids) <= set(self.dept_ids)
                and set(other.mobiles) <= set(self.mobiles))


@dataclass(frozen=True)
class Webhook:
    """A group robot; the URL and secret are read from the environment at start."""

    url: str = field(repr=False)
    secret: str | None = field(repr=False)


@dataclass(frozen=True)
class Route:
    """One ``[[route]]``: first match wins."""

    name: str
    match: dict[str, str]
    channel: str
    recipients: Recipients = Recipients()
    webhook: Webhook | None = None
    template: Template | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items())


@dataclass(frozen=True)
class Token:
    """A bearer token and the explicit recipients it may name (None: any)."""

    value: str = field(repr=False)
    allow: Recipients | None


@dataclass(frozen=True)
class RelayConfig:
    """Everything ``dingnotify serve`` reads from its configuration file."""

    queue: Path
    tokens: tuple[Token, ...]
    routes: tuple[Route, ...]
    templates: dict[str, Template]
    body_limit: int = DEFAULT_BODY_LIMIT
    queue_limit: int = DEFAULT_QUEUE_LIMIT

    def route(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)

    def first_match(self, labels: dict[str, str]) -> Route | None:
        return next((r for r in self.routes if r.matches(labels)), None)


def load_config(path: str | Path) -> RelayConfig:
    """Read and check ``path``; raises ``RelayConfigError`` with one line."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RelayConfigError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RelayConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        return _parse(data, path.parent)
    except TemplateError as exc:
        raise RelayConfigError(f"{path}: {exc}") from None


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RelayConfigError(f"{where} must be a table")
    return value


def _int(section: dict[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RelayConfigError(f"[relay] {key} must be a whole number >= 1")
    return value


def _parse(data: dict[str, Any], base: Path) -> RelayConfig:
    relay = _table(data.get("relay", {}), "[relay]")
    queue = relay.get("queue", "relay.sqlite")
    if not isinstance(queue, str) or not queue:
        raise RelayConfigError("[relay] queue must be a file name")
    templates = {name: _template(base, file, f"[templates] {name}")
                 for name, file in _table(data.get("templates", {}), "[templates]").items()}
    routes = [_route(_table(r, "[[route]]"), base) for r in _list(data.get("route", []))]
    names = [r.name for r in routes]
    if len(set(names)) != len(names):
        raise RelayConfigError("[[route]] names must be unique")
    return RelayConfig(
        queue=base / queue, tokens=_tokens(relay, data.get("token", [])),
        routes=tuple(routes), templates=templates,
        body_limit=_int(relay, "body_limit", DEFAULT_BODY_LIMIT),
        queue_limit=_int(relay, "queue_limit", DEFAULT_QUEUE_LIMIT))


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise RelayConfigError("[[route]] and [[token]] must be arrays of tables")
    return value


def _env(name: object, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise RelayConfigError(f"{where} must name an environment variable")
    value = os.environ.get(name)
    if not value:
        raise RelayConfigError(f"{where}: environment variable {name} is not set")
    return value


def _tokens(relay: dict[str, Any], extra: object) -> tuple[Token, ...]:
    tokens = []
    if "token_env" in relay:
        tokens.append(Token(_env(relay["token_env"], "[relay] token_env"),
                            _allow(relay.get("allow_recipients"))))
    for item in _list(extra):
        entry = _table(item, "[[token]]")
        tokens.append(Token(_env(entry.get("env"), "[[token]] env"),
                            _allow(entry.get("allow_recipients"))))
    if not tokens:
        raise RelayConfigError("[relay] token_env is required: every request needs a token")
    return tuple(tokens)


def _allow(value: object) -> Recipients | None:
    return None if value is None else parse_recipients(_table(value, "allow_recipients"),
                                                  "allow_recipients")


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RelayConfigError(f"{where} must be a list of strings")
    return tuple(value)


def parse_recipients(table: dict[str, Any], where: str) -> Recipients:
    depts = table.get("dept_ids", [])
    if not isinstance(depts, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in depts):
        raise RelayConfigError(f"{where}: dept_ids must be a list of positive numbers")
    unknown = set(table) - {"userids", "dept_ids", "mobiles"}
    if unknown:
        raise RelayConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    return Recipients(userids=_strings(table.get("userids", []), f"{where}.userids"),
                      dept_ids=tuple(depts),
                      mobiles=_strings(table.get("mobiles", []), f"{where}.mobiles"))


def _template(base: Path, file: object, where: str) -> Template:
    if not isinstance(file, str) or not file:
        raise RelayConfigError(f"{where} must be a file name")
    try:
        return Template((base / file).read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RelayConfigError(f"{where}: cannot read {file} ({exc.__class__.__name__})"
                               ) from None


def _route(table: dict[str, Any], base: Path) -> Route:
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise RelayConfigError("every [[route]] needs a name")
    where = f"route {name!r}"
    match = _table(table.get("match", {}), f"{where} match")
    if not all(isinstance(v, str) for v in match.values()):
        raise RelayConfigError(f"{where}: match values must be strings")
    channels = [c for c in CHANNELS if c in table]
    if len(channels) != 1:
        raise RelayConfigError(f"{where} needs exactly one of {', '.join(CHANNELS)}")
    channel = channels[0]
    target = _table(table[channel], f"{where} {channel}")
    template = _template(base, table["template"], f"{where} template") \
        if "template" in table else None
    if channel == "webhook":
        hook = Webhook(_env(target.get("url_env"), f"{where} webhook.url_env"),
                       _env(target["secret_env"], f"{where} webhook.secret_env")
                       if "secret_env" in target else None)
        return Route(name, dict(match), channel, webhook=hook, template=template)
    recipients = parse_recipients(target, f"{where} {channel}")
    if channel == "robot" and (recipients.dept_ids or recipients.mobiles):
        raise RelayConfigError(f"{where}: robot takes userids only")
    if not (recipients.userids or recipients.dept_ids or recipients.mobiles):
        raise RelayConfigError(f"{where}: no recipients")
    return Route(name, dict(match), channel, recipients=recipients, template=template)
