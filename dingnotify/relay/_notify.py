"""``POST /notify``: a route or explicit recipients, and a message or a template with data."""

from __future__ import annotations

from typing import Any

from ._config import Recipients, RelayConfig, RelayConfigError, Token, parse_recipients
from ._messages import RequestError, for_channel, markdown, title_of
from ._queue import Item

EXPLICIT_CHANNELS = ("work_notice", "robot")
MAX_KEY_CHARS = 200


class ForbiddenError(Exception):
    """The token may not name these recipients (answered 403)."""


def _to(value: object) -> Recipients:
    if not isinstance(value, dict):
        raise RequestError('"to" must be an object with userids, dept_ids or mobiles')
    try:
        recipients = parse_recipients(value, '"to"')
    except RelayConfigError as exc:
        raise RequestError(str(exc)) from None
    if not (recipients.userids or recipients.dept_ids or recipients.mobiles):
        raise RequestError('"to" names no recipient')
    return recipients


def _target(config: RelayConfig, request: dict[str, Any],
            token: Token) -> tuple[str, str | None, Recipients]:
    if "route" in request:
        if "to" in request:
            raise RequestError('give "route" or "to", not both')
        route = config.route(request["route"]) if isinstance(request["route"], str) else None
        if route is None:
            raise RequestError(f"no route named {request['route']!r}")
        return route.channel, route.name, route.recipients
    channel = request.get("channel", "work_notice")
    if channel not in EXPLICIT_CHANNELS:
        raise RequestError(f'"channel" must be one of {", ".join(EXPLICIT_CHANNELS)} '
                           '(a group robot is reached through its route)')
    to = _to(request.get("to"))
    if channel == "robot" and (to.dept_ids or to.mobiles):
        raise RequestError("the robot channel takes userids only")
    if token.allow is not None and not token.allow.covers(to):
        raise ForbiddenError("this token may not notify some of these recipients")
    return channel, None, to


def _message(config: RelayConfig, request: dict[str, Any], channel: str) -> list[dict[str, Any]]:
    if ("message" in request) == ("template" in request):
        raise RequestError('give "message" or "template" (with "data")')
    if "message" in request:
        return for_channel(channel, request["message"])
    template = config.templates.get(request["template"]) \
        if isinstance(request["template"], str) else None
    if template is None:
        raise RequestError(f"no template named {request['template']!r}")
    data = request.get("data", {})
    if not isinstance(data, dict):
        raise RequestError('"data" must be an object')
    text = template.render(data)
    title = data.get("title") if isinstance(data.get("title"), str) else title_of(text)
    return for_channel(channel, markdown(str(title)[:64] or "notification", text or " "))


def parse_notify(config: RelayConfig, request: object, token: Token) -> tuple[Item, str | None]:
    """The notification to queue, and its idempotency key."""
    if not isinstance(request, dict):
        raise RequestError("the body must be a JSON object")
    key = request.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS):
        raise RequestError(f'"idempotency_key" must be a string of 1-{MAX_KEY_CHARS} chars')
    channel, route, recipients = _target(config, request, token)
    messages = _message(config, request, channel)
    item = Item(channel, route, recipients.as_dict(), messages)
    return item, None if key is None else f"notify:{key}"
