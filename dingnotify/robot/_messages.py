"""Robot message templates, one frozen Struct per DingTalk ``msgKey``.

The new-generation robot API takes ``msgKey`` plus ``msgParam``, a JSON *string* of the
template's keys. Python attributes are snake_case; wire keys are spelled exactly as DingTalk
spells them (``picUrl``, ``photoURL``, ``singleURL``), which is not one consistent casing, so
each key is named explicitly.

``sampleActionCard2``..``5`` (2-5 stacked buttons, ``actionTitleN``/``actionURLN``) follow
DingTalk's published examples for 2 and 3 buttons; 4 and 5 are the same pattern extended and
have not been confirmed. ``sampleActionCard6`` (two side-by-side buttons) is left out: sources
disagree on its keys (``buttonURL1``, ``buttonUrl1``, ``btns``). Each bigger card extends
the smaller one, so test the exact type (``msg_key``), not ``isinstance``, to tell them apart.
"""

from __future__ import annotations

from typing import ClassVar, TypeAlias

import msgspec

from .._errors import ValidationError

_encoder = msgspec.json.Encoder()


def _check_text(owner: str, name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{owner}.{name} is required: a non-empty string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{owner}.{name} holds a lone surrogate") from None


def _digits(owner: str, name: str, value: object) -> str:
    """A duration as DingTalk reads it: a string of digits (``int`` accepted)."""
    text = str(value).strip() if isinstance(value, int | str) else ""
    if isinstance(value, bool) or not text.isdigit() or not text.isascii():
        raise ValidationError(f"{owner}.{name} must be a whole number")
    return text


class _Template(msgspec.Struct, kw_only=True, frozen=True):
    """Every field is a required non-empty string unless a subclass says otherwise."""

    msg_key: ClassVar[str]
    _numeric: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if name in self._numeric:
                msgspec.structs.force_setattr(self, name, _digits(self.msg_key, name, value))
            else:
                _check_text(self.msg_key, name, value)


class SampleText(_Template, frozen=True):
    """Plain text."""

    msg_key: ClassVar[str] = "sampleText"
    content: str


class SampleMarkdown(_Template, frozen=True):
    """Markdown; ``title`` is the preview in the conversation list."""

    msg_key: ClassVar[str] = "sampleMarkdown"
    title: str
    text: str


class SampleLink(_Template, frozen=True):
    """A link card; ``pic_url`` may be a URL or a media id."""

    msg_key: ClassVar[str] = "sampleLink"
    text: str
    title: str
    pic_url: str = msgspec.field(name="picUrl")
    message_url: str = msgspec.field(name="messageUrl")


class SampleImageMsg(_Template, frozen=True):
    """An image; ``photo_url`` may be a full URL or a media id."""

    msg_key: ClassVar[str] = "sampleImageMsg"
    photo_url: str = msgspec.field(name="photoURL")


class SampleActionCard(_Template, frozen=True):
    """A card with one button."""

    msg_key: ClassVar[str] = "sampleActionCard"
    title: str
    text: str
    single_title: str = msgspec.field(name="singleTitle")
    single_url: str = msgspec.field(name="singleURL")


class SampleActionCard2(_Template, frozen=True):
    """A card with two stacked buttons (keys pinned by DingTalk's example)."""

    msg_key: ClassVar[str] = "sampleActionCard2"
    title: str
    text: str
    action_title_1: str = msgspec.field(name="actionTitle1")
    action_url_1: str = msgspec.field(name="actionURL1")
    action_title_2: str = msgspec.field(name="actionTitle2")
    action_url_2: str = msgspec.field(name="actionURL2")


class SampleActionCard3(SampleActionCard2, frozen=True):
    """Three stacked buttons (keys pinned by DingTalk's example)."""

    msg_key: ClassVar[str] = "sampleActionCard3"
    action_title_3: str = msgspec.field(name="actionTitle3")
    action_url_3: str = msgspec.field(name="actionURL3")


class SampleActionCard4(SampleActionCard3, frozen=True):
    """Four stacked buttons; keys extrapolated from the 2- and 3-button examples."""

    msg_key: ClassVar[str] = "sampleActionCard4"
    action_title_4: str = msgspec.field(name="actionTitle4")
    action_url_4: str = msgspec.field(name="actionURL4")


class SampleActionCard5(SampleActionCard4, frozen=True):
    """Five stacked buttons; keys extrapolated from the 2- and 3-button examples."""

    msg_key: ClassVar[str] = "sampleActionCard5"
    action_title_5: str = msgspec.field(name="actionTitle5")
    action_url_5: str = msgspec.field(name="actionURL5")


class SampleFile(_Template, frozen=True):
    """An uploaded file; ``file_type`` is its extension (``pdf``, ``xlsx``, ``zip``...)."""

    msg_key: ClassVar[str] = "sampleFile"
    media_id: str = msgspec.field(name="mediaId")
    file_name: str = msgspec.field(name="fileName")
    file_type: str = msgspec.field(name="fileType")


class SampleAudio(_Template, frozen=True):
    """An uploaded voice clip; ``duration`` in milliseconds, sent as a digit string."""

    msg_key: ClassVar[str] = "sampleAudio"
    _numeric: ClassVar[frozenset[str]] = frozenset({"duration"})
    media_id: str = msgspec.field(name="mediaId")
    duration: str | int


class SampleVideo(_Template, frozen=True):
    """An uploaded video with a cover picture; ``duration`` in seconds, as a digit string."""

    msg_key: ClassVar[str] = "sampleVideo"
    _numeric: ClassVar[frozenset[str]] = frozenset({"duration"})
    duration: str | int
    video_media_id: str = msgspec.field(name="videoMediaId")
    video_type: str = msgspec.field(name="videoType")
    pic_media_id: str = msgspec.field(name="picMediaId")


RobotMessage: TypeAlias = (
    SampleText | SampleMarkdown | SampleLink | SampleImageMsg | SampleActionCard
    | SampleActionCard2 | SampleActionCard3 | SampleActionCard4 | SampleActionCard5
    | SampleFile | SampleAudio | SampleVideo
)


def msg_key(msg: RobotMessage) -> str:
    """The ``msgKey`` DingTalk expects for this template."""
    return msg.msg_key


def encode_msg_param(msg: RobotMessage) -> str:
    """The compact JSON string that goes into ``msgParam`` (non-ASCII kept as is)."""
    return _encoder.encode(msg).decode()
