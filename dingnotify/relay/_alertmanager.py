"""Alertmanager's webhook payload (version 4) turned into one notification per route.

Each alert goes to the first route its labels match; the alerts of one group that share a
route make one notification, rendered by the route's template or the built-in markdown.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from typing import Any

from ._config import RelayConfig, Route
from ._messages import WORK_NOTICE_BYTES, RequestError, markdown, split_markdown, title_of
from ._queue import Item
from ._template import TemplateError

log = logging.getLogger("dingnotify.relay")

DEDUP_SECONDS = 600.0  # Alertmanager's own retries and HA peers; shorter than repeat_interval
# A storm must not spend a person's 500 work notices a day, nor a group robot's minute.
MAX_WORK_NOTICE_PARTS = 5
MAX_ROBOT_BYTES = 18_000


def check_payload(data: object) -> dict[str, Any]:
    """The payload if it has Alertmanager's shape; ``RequestError`` otherwise."""
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise RequestError("not an Alertmanager payload: no alerts list")
    for alert in data["alerts"]:
        if not isinstance(alert, dict) or not isinstance(alert.get("labels", {}), dict):
            raise RequestError("not an Alertmanager payload: an alert without labels")
    return data


def _labels(alert: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def dedup_key(payload: dict[str, Any]) -> str:
    """The same group with the same alert states hashes the same (a retried delivery)."""
    states = sorted((_text(a.get("fingerprint")), _text(a.get("status")),
                     _text(a.get("startsAt")), _text(a.get("endsAt")))
                    for a in payload["alerts"])
    raw = json.dumps([_text(payload.get("groupKey")), states])
    return "am:" + hashlib.sha256(raw.encode()).hexdigest()


def _name(payload: dict[str, Any], alerts: list[dict[str, Any]]) -> str:
    for table in ("groupLabels", "commonLabels"):
        labels = payload.get(table)
        if isinstance(labels, dict) and isinstance(labels.get("alertname"), str):
            return str(labels["alertname"])
    names = list(dict.fromkeys(_labels(a).get("alertname", "alert") for a in alerts))
    return ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")


def _alert_lines(alert: dict[str, Any]) -> list[str]:
    labels = _labels(alert)
    found = alert.get("annotations")
    notes: dict[str, Any] = found if isinstance(found, dict) else {}
    head = f"- **{labels.get('alertname', 'alert')}**"
    summary = _text(notes.get("summary"))
    lines = [f"{head}: {summary}" if summary else head]
    if description := _text(notes.get("description")):
        lines.append(f"  {description}")
    tags = " ".join(f"`{k}={v}`" for k, v in sorted(labels.items()) if k != "alertname")
    if tags:
        lines.append(f"  {tags}")
    if url := _text(alert.get("generatorURL")):
        lines.append(f"  [source]({url})")
    return lines


def _compact_line(alert: dict[str, Any]) -> list[str]:
    """One line: the name, the instance and the summary (a storm's listing)."""
    labels = _labels(alert)
    found = alert.get("annotations")
    summary = _text(found.get("summary")) if isinstance(found, dict) else ""
    where = f" {labels['instance']}" if "instance" in labels else ""
    return [f"- **{labels.get('alertname', 'alert')}**{where}" + (f": {summary}" if summary
                                                                  else "")]


def default_markdown(payload: dict[str, Any], alerts: list[dict[str, Any]], *,
                     compact: bool = False, shown: int | None = None) -> tuple[str, str]:
    """The built-in template: title and markdown listing firing, then resolved alerts;
    ``compact`` gives one line per alert, ``shown`` lists that many and counts the rest."""
    firing = [a for a in alerts if a.get("status") != "resolved"]
    resolved = [a for a in alerts if a.get("status") == "resolved"]
    name = _name(payload, alerts)
    title = f"[FIRING:{len(firing)}] {name}" if firing else f"[RESOLVED] {name}"
    lines = [f"### {title}"]
    left = len(alerts) if shown is None else shown
    for label, group in (("Firing", firing), ("Resolved", resolved)):
        if group and left > 0:
            lines += ["", f"**{label}**", ""]
            for alert in group[:left]:
                lines += _compact_line(alert) if compact else _alert_lines(alert)
            left -= min(left, len(group))
    if shown is not None and shown < len(alerts):
        where = _text(payload.get("externalURL"))
        lines += ["", f"... and {len(alerts) - shown} more alerts"
                  + (f": [Alertmanager]({where})" if where else "")]
    if truncated := payload.get("truncatedAlerts"):
        lines += ["", f"({truncated} more alerts not shown by Alertmanager)"]
    return title[:64], "\n".join(lines) + "\n"


def _messages(channel: str, title: str, text: str) -> list[dict[str, Any]] | None:
    """The messages for ``channel``, or None when a storm's text is over its budget."""
    if channel == "work_notice":
        if len(text.encode()) > MAX_WORK_NOTICE_PARTS * WORK_NOTICE_BYTES:
            return None  # certainly over: spare the split
        parts = split_markdown(title, text)
        return parts if len(parts) <= MAX_WORK_NOTICE_PARTS else None
    return [markdown(title, text)] if len(text.encode()) <= MAX_ROBOT_BYTES else None


def _built_in(channel: str, payload: dict[str, Any],
              alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In full if it fits the channel's budget; else one line an alert; else the first
    alerts and a count of the rest: a storm becomes a digest, never silence."""
    messages = _messages(channel, *default_markdown(payload, alerts))
    if messages is not None:
        return messages
    shown = _lines_within(alerts, MAX_ROBOT_BYTES if channel != "work_notice"
                          else MAX_WORK_NOTICE_PARTS * 1600)
    while True:
        title, text = default_markdown(payload, alerts, compact=True, shown=shown)
        messages = _messages(channel, title, text)
        if messages is not None or shown == 1:
            return messages if messages is not None else split_markdown(title, text)[:1]
        shown = max(1, shown * 2 // 3)


def _lines_within(alerts: list[dict[str, Any]], budget: int) -> int:
    """How many compact alert lines fit ``budget`` bytes, roughly (checked after)."""
    used = 200  # the heading, the two section titles, the count of the rest
    for count, alert in enumerate(alerts):
        used += len(_compact_line(alert)[0].encode()) + 8
        if used > budget:
            return max(1, count)
    return len(alerts)


def _by_route(config: RelayConfig,
              alerts: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    routed: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        route = config.first_match(_labels(alert))
        if route is not None:
            routed.setdefault(route.name, []).append(alert)
    return routed


def _render(route: Route, payload: dict[str, Any],
            alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if route.template is None:
        return _built_in(route.channel, payload, alerts)
    status = "firing" if any(a.get("status") != "resolved" for a in alerts) else "resolved"
    try:
        text = route.template.render({**payload, "alerts": alerts, "status": status})
    except TemplateError as exc:  # Alertmanager must never get a 4xx: say it, plainly
        log.warning("route %r: template failed (%s); the built-in one is used", route.name, exc)
        return _built_in(route.channel, payload, alerts)
    title = title_of(text)
    return (split_markdown(title, text) if route.channel == "work_notice"
            else [markdown(title, text)])


def items_for(config: RelayConfig, payload: dict[str, Any]) -> list[Item]:
    """One ``Item`` per matched route, in the order of the routes."""
    routed = _by_route(config, payload["alerts"])
    items = []
    for route in config.routes:
        alerts = routed.get(route.name)
        if not alerts:
            continue
        items.append(Item(route.channel, route.name, route.recipients.as_dict(),
                          _render(route, payload, alerts)))
    return items
