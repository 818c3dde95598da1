"""Message Structs for the group webhook robot, with this channel's own camelCase keys.

DingTalk's webhook spells keys differently from work notifications (``messageUrl`` in a
link, ``messageURL`` in a feed card), so every wire name is written out explicitly.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

import msgspec

from dingnotify._errors import ValidationError

_OPTIONS: dict[str, Any] = {"frozen": True, "kw_only": True, "omit_defaults": True}


class Text(msgspec.Struct, **_OPTIONS):
    """Plain text; mentions are highlighted where ``@mobile``/``@userid`` is in ``content``."""

    msgtype: ClassVar[str] = "text"
    content: str


class Link(msgspec.Struct, **_OPTIONS):
    """A card with a title, a summary, an optional picture, opening ``message_url``."""

    msgtype: ClassVar[str] = "link"
    title: str
    text: str
    message_url: str = msgspec.field(name="messageUrl")
    pic_url: str = msgspec.field(default="", name="picUrl")


class Markdown(msgspec.Struct, **_OPTIONS):
    """Markdown body; ``title`` is what the conversation list shows."""

    msgtype: ClassVar[str] = "markdown"
    title: str
    text: str


class ActionCardButton(msgspec.Struct, **_OPTIONS):
    """One button of a multi-button ``ActionCard``."""

    title: str
    action_url: str = msgspec.field(name="actionURL")


class ActionCard(msgspec.Struct, **_OPTIONS):
    """A markdown card with one button (``single_title`` + ``single_url``) or several."""

    msgtype: ClassVar[str] = "actionCard"
    title: str
    text: str
    single_title: str = msgspec.field(default="", name="singleTitle")
    single_url: str = msgspec.field(default="", name="singleURL")
    btn_orientation: Literal["", "0", "1"] = msgspec.field(default="", name="btnOrientation")
    btns: tuple[ActionCardButton, ...] = ()

    def __post_init__(self) -> None:
        single = bool(self.single_title or self.single_url)
        if single == bool(self.btns):
            raise ValidationError("ActionCard needs either single_title/single_url or btns")
        if single and not (self.single_title and self.single_url):
            raise ValidationError("ActionCard needs both single_title and single_url")


class FeedCardLink(msgspec.Struct, **_OPTIONS):
    """One entry of a ``FeedCard``."""

    title: str
    message_url: str = msgspec.field(name="messageURL")
    pic_url: str = msgspec.field(name="picURL")


class FeedCard(msgspec.Struct, **_OPTIONS):
    """A list of linked entries, each with a picture."""

    msgtype: ClassVar[str] = "feedCard"
    links: tuple[FeedCardLink, ...]

    def __post_init__(self) -> None:
        if not self.links:
            raise ValidationError("FeedCard needs at least one link")


class At(msgspec.Struct, **_OPTIONS):
    """Who to mention; empty lists are left out of the body as DingTalk expects."""

    at_mobiles: tuple[str, ...] = msgspec.field(default=(), name="atMobiles")
    at_user_ids: tuple[str, ...] = msgspec.field(default=(), name="atUserIds")
    is_at_all: bool = msgspec.field(default=False, name="isAtAll")


WebhookMessage = Text | Link | Markdown | ActionCard | FeedCard
MENTIONABLE = (Text, Markdown)

_encoder = msgspec.json.Encoder()


_MENTION_END = r"(?![A-Za-z0-9_\-])"
"""What may not follow ``@who`` for it to be a whole mention rather than a longer id's prefix."""


def _mentioned(text: str, who: str) -> bool:
    """Whether ``@who`` is in ``text`` as a whole mention (``@138001`` is not ``@1380``)."""
    return re.search(f"@{re.escape(who)}{_MENTION_END}", text) is not None


def with_mentions(message: WebhookMessage, at: At) -> WebhookMessage:
    """``@mobile`` and ``@userid`` in the text of a text or markdown message.

    DingTalk renders a mention of ``atMobiles``/``atUserIds`` only where ``@<mobile>`` or
    ``@<userid>`` appears in the text, so each one not already there is appended: after a
    space in a text message, on a paragraph of its own at the end of a markdown one (so it
    never lands on a closing code fence). Other message types are returned unchanged.
    """
    if not isinstance(message, Text | Markdown):
        return message
    text = message.content if isinstance(message, Text) else message.text
    missing = [w for w in dict.fromkeys((*at.at_mobiles, *at.at_user_ids))
               if not _mentioned(text, w)]
    if not missing:
        return message
    mentions = " ".join(f"@{w}" for w in missing)
    if isinstance(message, Text):
        return msgspec.structs.replace(message, content=f"{text} {mentions}")
    return msgspec.structs.replace(message, text=f"{text}\n\n{mentions}")


def encode_body(message: WebhookMessage, at: At | None = None) -> bytes:
    """The JSON body DingTalk expects: ``{"msgtype": ..., <msgtype>: {...}, "at": {...}}``."""
    body: dict[str, Any] = {"msgtype": message.msgtype, message.msgtype: message}
    if at is not None and at != At():
        body["at"] = at
    return _encoder.encode(body)
