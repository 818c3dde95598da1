"""Work-notification message types, as frozen msgspec Structs.

Python names are snake_case; wire keys are exactly DingTalk's (``link`` uses
``messageUrl``/``picUrl``). ``encode_msg`` produces ``{"msgtype": T, T: {...}}`` with
``msgtype`` only at the top level, which is why the Structs are not a msgspec tagged union.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeAlias

import msgspec

from .._constants import MAX_MSG_BYTES
from .._errors import MessageTooLargeError, ValidationError

_encoder = msgspec.json.Encoder()


class _Part(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True):
    """Base for message bodies and their nested parts."""


def _require(owner: str, **fields: object) -> None:
    for name, value in fields.items():
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{owner}.{name} is required: a non-empty string")


def _optional(owner: str, **fields: object) -> None:
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"{owner}.{name} must be a string when given")


def _parts(owner: str, value: object, kind: type[_Part], *, many: bool = False) -> None:
    if many and not isinstance(value, tuple | list):
        raise ValidationError(f"{owner} must be a list of {kind.__name__}")
    items = value if isinstance(value, tuple | list) and many else (value,)
    if not all(isinstance(item, kind) for item in items):
        raise ValidationError(f"{owner} must hold {kind.__name__} values")


class _Message(_Part, frozen=True):
    msgtype: ClassVar[str]


class Text(_Message, frozen=True):
    """Plain text."""

    msgtype: ClassVar[str] = "text"
    content: str

    def __post_init__(self) -> None:
        _require("text", content=self.content)


class Image(_Message, frozen=True):
    """An image uploaded with ``client.media.upload(..., media_type="image")``."""

    msgtype: ClassVar[str] = "image"
    media_id: str

    def __post_init__(self) -> None:
        _require("image", media_id=self.media_id)


class Voice(_Message, frozen=True):
    """A voice clip; ``duration`` in seconds (1-60), sent as a string like DingTalk's SDKs."""

    msgtype: ClassVar[str] = "voice"
    media_id: str
    duration: str | int

    def __post_init__(self) -> None:
        _require("voice", media_id=self.media_id)
        text = str(self.duration).strip()
        if isinstance(self.duration, bool) or not text.isdigit() or not 1 <= int(text) <= 60:
            raise ValidationError("voice.duration must be a whole number of seconds from 1 to 60")
        msgspec.structs.force_setattr(self, "duration", text)


class File(_Message, frozen=True):
    """A file uploaded with ``client.media.upload(..., media_type="file")``."""

    msgtype: ClassVar[str] = "file"
    media_id: str

    def __post_init__(self) -> None:
        _require("file", media_id=self.media_id)


class Link(_Message, frozen=True, rename={"message_url": "messageUrl", "pic_url": "picUrl"}):
    """A link card; ``pic_url`` may be a URL or a media_id."""

    msgtype: ClassVar[str] = "link"
    message_url: str
    pic_url: str
    title: str
    text: str

    def __post_init__(self) -> None:
        _require(
            "link", message_url=self.message_url, pic_url=self.pic_url, title=self.title,
            text=self.text,
        )


class Markdown(_Message, frozen=True):
    """Markdown; ``title`` is the preview shown in the conversation list."""

    msgtype: ClassVar[str] = "markdown"
    title: str
    text: str

    def __post_init__(self) -> None:
        _require("markdown", title=self.title, text=self.text)


class OAHead(_Part, frozen=True):
    """OA header; ``bgcolor`` is 8 hex digits ARGB without ``0x``."""

    bgcolor: str
    text: str

    def __post_init__(self) -> None:
        _require("oa.head", bgcolor=self.bgcolor, text=self.text)
        if len(self.bgcolor) != 8 or any(c not in "0123456789abcdefABCDEF" for c in self.bgcolor):
            raise ValidationError("oa.head.bgcolor must be 8 hex digits (ARGB), e.g. FFBBBBBB")


class OAStatusBar(_Part, frozen=True):
    status_value: str | None = None
    status_bg: str | None = None

    def __post_init__(self) -> None:
        _optional("oa.status_bar", status_value=self.status_value, status_bg=self.status_bg)


class OAFormItem(_Part, frozen=True):
    key: str
    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not isinstance(self.value, str):
            raise ValidationError("oa.body.form items need string key and value")


class OARich(_Part, frozen=True):
    num: str | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        _optional("oa.body.rich", num=self.num, unit=self.unit)


class OABody(_Part, frozen=True):
    title: str | None = None
    form: tuple[OAFormItem, ...] | None = None
    rich: OARich | None = None
    content: str | None = None
    image: str | None = None
    file_count: str | None = None
    author: str | None = None

    def __post_init__(self) -> None:
        _optional("oa.body", title=self.title, content=self.content, image=self.image,
                  file_count=self.file_count, author=self.author)
        if self.form is not None:
            _parts("oa.body.form", self.form, OAFormItem, many=True)
        if self.rich is not None:
            _parts("oa.body.rich", self.rich, OARich)


class OA(_Message, frozen=True):
    """An OA card: header, body with form/rich/content, optional status bar."""

    msgtype: ClassVar[str] = "oa"
    message_url: str
    head: OAHead
    body: OABody
    pc_message_url: str | None = None
    status_bar: OAStatusBar | None = None

    def __post_init__(self) -> None:
        _require("oa", message_url=self.message_url)
        _optional("oa", pc_message_url=self.pc_message_url)
        _parts("oa.head", self.head, OAHead)
        _parts("oa.body", self.body, OABody)
        if self.status_bar is not None:
            _parts("oa.status_bar", self.status_bar, OAStatusBar)


class ActionCardButton(_Part, frozen=True):
    title: str
    action_url: str

    def __post_init__(self) -> None:
        _require("action_card.btn_json_list[]", title=self.title, action_url=self.action_url)


class ActionCard(_Message, frozen=True):
    """An action card: either one jump (single_title + single_url) or a list of buttons."""

    msgtype: ClassVar[str] = "action_card"
    title: str
    markdown: str
    single_title: str | None = None
    single_url: str | None = None
    btn_orientation: Literal["0", "1"] | None = None
    btn_json_list: tuple[ActionCardButton, ...] | None = None

    def __post_init__(self) -> None:
        _require("action_card", title=self.title, markdown=self.markdown)
        _optional("action_card", single_title=self.single_title, single_url=self.single_url)
        if self.btn_json_list is not None:
            _parts("action_card.btn_json_list", self.btn_json_list, ActionCardButton, many=True)
        single = self.single_title is not None or self.single_url is not None
        buttons = self.btn_json_list is not None or self.btn_orientation is not None
        if single == buttons:
            raise ValidationError(
                "action_card needs either single_title+single_url or "
                "btn_orientation+btn_json_list, not both and not neither"
            )
        if single:
            _require("action_card", single_title=self.single_title, single_url=self.single_url)
        elif not self.btn_json_list or self.btn_orientation not in ("0", "1"):
            raise ValidationError(
                "action_card buttons need btn_orientation '0' or '1' and a non-empty btn_json_list"
            )


Message: TypeAlias = Text | Image | Voice | File | Link | Markdown | OA | ActionCard
MESSAGE_TYPES: dict[str, type[_Message]] = {
    cls.msgtype: cls for cls in (Text, Image, Voice, File, Link, Markdown, OA, ActionCard)
}


_PREFIXES = {
    cls: b'{"msgtype":"%s","%s":' % (kind.encode(), kind.encode())
    for kind, cls in MESSAGE_TYPES.items()
}


def encode_msg(message: Message) -> bytes:
    """The ``msg`` object as DingTalk expects it; raises if over 2048 bytes."""
    prefix = _PREFIXES.get(type(message))
    if prefix is None:
        raise ValidationError(f"not a dingnotify message: {type(message).__name__}")
    # Every field was type-checked when the Struct was built (``__post_init__``).
    encoded = prefix + _encoder.encode(message) + b"}"
    if len(encoded) > MAX_MSG_BYTES:
        raise MessageTooLargeError(
            f"encoded {message.msgtype} msg is {len(encoded)} bytes; "
            f"DingTalk accepts at most {MAX_MSG_BYTES}"
        )
    return encoded


def message_from_dict(data: dict[str, Any]) -> Message:
    """Build a message from the wire form ``{"msgtype": T, T: {...}}`` (e.g. a JSON file)."""
    kind = data.get("msgtype")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        raise ValidationError(f"unknown msgtype {kind!r}; expected one of {sorted(MESSAGE_TYPES)}")
    cls = MESSAGE_TYPES[kind]
    inner = data.get(kind)
    if not isinstance(inner, dict):
        raise ValidationError(f"msg must hold a {kind!r} object")
    try:
        result: Message = msgspec.convert(inner, cls)  # type: ignore[assignment]
    except msgspec.ValidationError as exc:
        raise ValidationError(f"invalid {kind} message: {exc}") from None
    return result
