"""Stream-mode frames: what DingTalk pushes, what the handlers see, what goes back.

A downstream frame is ``{"specVersion", "type", "headers", "data"}`` with ``data`` a JSON
document *in a string*; headers are kept whole (unknown ones included). An ack carries the
frame's ``messageId`` and a code (200, 404 topic not handled, 500 failed) and, for a card
click, the card's new data wrapped in ``response``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..cards import card_param_map

CARD_TOPIC = "/v1.0/card/instances/callback"
EVENT_OK = b'{"status":"SUCCESS","message":"success"}'
EVENT_LATER = b'{"status":"LATER","message":"busy"}'


class Frame(msgspec.Struct, kw_only=True, rename="camel"):
    spec_version: str | None = None
    type: str | None = None
    headers: dict[str, Any] = msgspec.field(default_factory=dict)
    data: str | None = None

    @property
    def message_id(self) -> str | None:
        value = self.headers.get("messageId")
        return value if isinstance(value, str) and value else None

    @property
    def topic(self) -> str:
        value = self.headers.get("topic")
        return value if isinstance(value, str) else ""


_frame = msgspec.json.Decoder(Frame)
_any = msgspec.json.Decoder()
_encode = msgspec.json.Encoder().encode


def decode_frame(text: str | bytes) -> Frame | None:
    """The frame, or None for anything that is not one."""
    try:
        return _frame.decode(text)
    except msgspec.DecodeError:
        return None


def data_of(frame: Frame) -> dict[str, Any]:
    """The frame's ``data`` document (empty if it is not a JSON object)."""
    return _object(frame.data)


def _object(text: object) -> dict[str, Any]:
    if not isinstance(text, str | bytes) or not text:
        return {}
    try:
        value = _any.decode(text)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def ack(message_id: str, code: int = 200, data: bytes = b"{}") -> bytes:
    """An upstream ack; ``data`` is the JSON document sent back (as a string)."""
    return _encode({"code": code, "headers": {"messageId": message_id,
                                              "contentType": "application/json"},
                    "message": "OK" if code == 200 else "error", "data": data.decode()})


@dataclass(frozen=True, slots=True)
class CardAction:
    """A click on a card: who clicked which action(s) with which parameters.

    ``params`` holds the template's callback parameters (form values too); ``raw`` is the
    whole callback document as DingTalk sent it.
    """

    out_track_id: str
    userid: str
    action_ids: list[str]
    params: dict[str, Any]
    corp_id: str
    space_type: str = ""
    space_id: str = ""
    message_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, frame: Frame) -> CardAction:
        data = data_of(frame)
        content = _object(data.get("content")) or _object(data.get("value"))
        private = content.get("cardPrivateData")
        private = private if isinstance(private, dict) else {}
        ids = private.get("actionIds")
        params = private.get("params")
        return cls(out_track_id=_str(data.get("outTrackId")), userid=_str(data.get("userId")),
                   action_ids=[str(i) for i in ids] if isinstance(ids, list) else [],
                   params=params if isinstance(params, dict) else {},
                   corp_id=_str(data.get("corpId")), space_type=_str(data.get("spaceType")),
                   space_id=_str(data.get("spaceId")), message_id=frame.message_id or "",
                   raw=data)


@dataclass(frozen=True, slots=True)
class CardUpdate:
    """A card action's answer: ``data`` changes everyone's view, ``private_data`` only the
    clicker's; merged by key unless ``replace``. Non-string values are JSON-encoded."""

    data: Mapping[str, Any] | None = None
    private_data: Mapping[str, Any] | None = None
    replace: bool = False

    def response(self) -> bytes:
        """The ack's ``data``: ``{"response": {cardData, userPrivateData, options}}``."""
        body: dict[str, Any] = {"cardUpdateOptions": {
            "updateCardDataByKey": not self.replace,
            "updatePrivateDataByKey": not self.replace}}
        if self.data is not None:
            body["cardData"] = {"cardParamMap": card_param_map(self.data)}
        if self.private_data is not None:
            body["userPrivateData"] = {"cardParamMap": card_param_map(
                self.private_data, where="private_data")}
        return _encode({"response": body})


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """An EVENT push (or a CALLBACK of a topic handled with ``on_event``)."""

    topic: str
    event_type: str
    event_id: str
    corp_id: str
    data: dict[str, Any]
    headers: dict[str, Any]
    message_id: str

    @classmethod
    def parse(cls, frame: Frame) -> StreamEvent:
        headers = frame.headers
        return cls(topic=frame.topic, event_type=_str(headers.get("eventType")) or frame.topic,
                   event_id=_str(headers.get("eventId")),
                   corp_id=_str(headers.get("eventCorpId")), data=data_of(frame),
                   headers=dict(headers), message_id=frame.message_id or "")


def _str(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
