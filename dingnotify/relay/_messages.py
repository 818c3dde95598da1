"""Messages in DingTalk's JSON form, checked and cut to what each channel accepts.

A work notice carries at most 2,048 bytes, so a long markdown becomes numbered parts here,
at accept time; a group robot splits its own (``WebhookRobot(split=True)``).
"""

from __future__ import annotations

import json
from typing import Any

from .. import MessageTooLargeError, ValidationError, encode_msg, message_from_dict

WORK_NOTICE_BYTES = 2048
TITLE_CHARS = 64
MARKDOWN_CHANNELS = ("robot", "webhook")


class RequestError(Exception):
    """A request that can never succeed as sent (answered 400 with this one line)."""


def markdown(title: str, text: str) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def title_of(text: str) -> str:
    """The first non-empty line, without markdown heading marks, as a chat-list title."""
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:TITLE_CHARS]
    return "notification"


def _cost(title: str, text: str) -> int:
    return len(json.dumps(markdown(title, text), ensure_ascii=False).encode()) + 4


def _pieces(text: str, room: int, title: str) -> list[str]:
    """Lines packed into pieces of at most ``room`` bytes of JSON; a longer line is cut."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while _cost(title, line) > room:  # one line alone is too long: cut it
            cut = len(line) // 2
            while cut > 1 and _cost(title, line[:cut]) > room:
                cut //= 2
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        if current and _cost(title, current + line) > room:
            pieces.append(current)
            current = ""
        current += line
    if current or not pieces:
        pieces.append(current)
    return pieces


def split_markdown(title: str, text: str, limit: int = WORK_NOTICE_BYTES) -> list[dict[str, Any]]:
    """One markdown message, or numbered parts each within ``limit`` bytes."""
    if _cost(title, text) <= limit:
        return [markdown(title, text)]
    pieces = _pieces(text, limit - len("(999/999) \n\n"), title)
    return [markdown(title, f"({i}/{len(pieces)})\n\n{p}") for i, p in
            enumerate(pieces, 1)]


def for_channel(channel: str, message: object) -> list[dict[str, Any]]:
    """``message`` (DingTalk's JSON form) as the messages ``channel`` will send."""
    if not isinstance(message, dict):
        raise RequestError('"message" must be an object like {"msgtype": ..., ...}')
    kind = message.get("msgtype")
    if channel in MARKDOWN_CHANNELS:
        return [_text_or_markdown(channel, kind, message)]
    try:
        encode_msg(message_from_dict(message))
    except MessageTooLargeError:
        if kind == "markdown":
            inner = message["markdown"]
            return split_markdown(str(inner.get("title", "")), str(inner.get("text", "")))
        raise RequestError(f"the {kind} message is over {WORK_NOTICE_BYTES} bytes") from None
    except ValidationError as exc:
        raise RequestError(str(exc)) from None
    return [message]


def _text_or_markdown(channel: str, kind: object, message: dict[str, Any]) -> dict[str, Any]:
    inner = message.get(kind) if isinstance(kind, str) else None
    if kind == "text" and isinstance(inner, dict) and isinstance(inner.get("content"), str):
        return {"msgtype": "text", "text": {"content": inner["content"]}}
    if kind == "markdown" and isinstance(inner, dict) and all(
            isinstance(inner.get(k), str) and inner.get(k) for k in ("title", "text")):
        return markdown(inner["title"], inner["text"])
    raise RequestError(f"the {channel} channel takes text or markdown messages")
