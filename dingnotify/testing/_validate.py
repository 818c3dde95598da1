"""Request-body validation for work notifications and cross-domain IM, read from the docs.

Lenient on types the way DingTalk is (the Java SDK stringifies every top-level value):
numbers may be numeric strings, booleans ``"true"``/``"false"``, nested objects JSON strings,
id lists comma strings or arrays. Every failure is errcode 40035 with a message that names
the field. ``msg`` size is measured as the UTF-8 byte length of the parsed ``msg`` object
re-encoded as compact JSON (key order kept, non-ASCII raw, no ``\\u`` escapes), so the same
message counts the same whether it arrived as an object, a JSON string or pretty-printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from ._wire import MSG_INVALID, MSG_MISSING, WireError, canonical, decode, encode

MAX_USERIDS = 100
MAX_DEPTS = 20
MAX_MSG_BYTES = 2048
PARAM_ERROR = 40035

REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "text": ("content",),
    "image": ("media_id",),
    "voice": ("media_id", "duration"),
    "file": ("media_id",),
    "link": ("messageUrl", "picUrl", "title", "text"),
    "markdown": ("title", "text"),
    "oa": ("message_url", "head", "body"),
    "action_card": ("title", "markdown"),
}


def missing(name: str) -> WireError:
    return WireError(PARAM_ERROR, f"{MSG_MISSING} {name}")


def invalid(name: str, why: str) -> WireError:
    return WireError(PARAM_ERROR, f"{MSG_INVALID} {name}: {why}")


def as_int(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if value is None:
        raise missing(name)
    raise invalid(name, "must be a number")


def as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(name, "must be a boolean")


def as_object(value: Any, name: str) -> dict[str, Any]:
    """An object, or a JSON string holding one."""
    if isinstance(value, str):
        try:
            value = decode(value)
        except msgspec.DecodeError:
            raise invalid(name, "not a JSON object") from None
    if value is None:
        raise missing(name)
    if not isinstance(value, dict):
        raise invalid(name, "must be a JSON object")
    return value


_CLEAN_LIST = re.compile(r"[^\s,]+(?:,[^\s,]+)*")


def as_id_list(value: Any, name: str) -> list[str]:
    """Comma-separated string or array -> list of non-empty, stripped strings."""
    if isinstance(value, str):
        if _CLEAN_LIST.fullmatch(value):  # the usual form: no blanks to strip (hot path)
            return value.split(",")
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise invalid(name, "items must be strings or numbers")
            text = str(item).strip()
            if text:
                out.append(text)
        return out
    if isinstance(value, int) and not isinstance(value, bool):
        return [str(value)]
    raise invalid(name, "must be a comma-separated string")


@dataclass(frozen=True, slots=True)
class SendRequest:
    agent_id: int
    userids: list[str]
    dept_ids: list[int]
    to_all_user: bool
    msg: dict[str, Any]
    msgtype: str
    content_key: bytes
    """Canonical (key-sorted) JSON of ``msg``: what "same content" means."""


def parse_send(body: dict[str, Any], media_known: Callable[[str], bool], *,
               max_userids: int = MAX_USERIDS, max_depts: int = MAX_DEPTS) -> SendRequest:
    """Validate an ``asyncsend_v2`` body; the list caps come from the emulator's limits."""
    agent_id = as_int(body.get("agent_id"), "agent_id")
    userids = as_id_list(body["userid_list"], "userid_list") if "userid_list" in body else []
    dept_ids: list[int] = []
    if "dept_id_list" in body and body["dept_id_list"] is not None:
        raw = as_id_list(body["dept_id_list"], "dept_id_list")
        if not raw:
            raise invalid("dept_id_list", "must not be empty when present")
        dept_ids = [as_int(d, "dept_id_list") for d in raw]
    to_all = body.get("to_all_user")
    to_all_user = False if to_all is None else as_bool(to_all, "to_all_user")
    if len(userids) > max_userids:
        raise invalid("userid_list", f"at most {max_userids} userids, got {len(userids)}")
    if len(dept_ids) > max_depts:
        raise invalid("dept_id_list", f"at most {max_depts} dept ids, got {len(dept_ids)}")
    if not userids and not dept_ids and not to_all_user:
        raise missing("userid_list, dept_id_list or to_all_user")
    msg = as_object(body.get("msg"), "msg")
    size = len(encode(msg))
    if size > MAX_MSG_BYTES:
        raise invalid("msg", f"{size} bytes exceeds {MAX_MSG_BYTES}")
    msgtype = validate_msg(msg, media_known)
    return SendRequest(agent_id, userids, dept_ids, to_all_user, msg, msgtype, canonical(msg))


def _require(inner: dict[str, Any], prefix: str, keys: tuple[str, ...]) -> None:
    for key in keys:
        value = inner.get(key)
        if value is None or value == "":
            raise missing(f"{prefix}.{key}")


def validate_msg(msg: dict[str, Any], media_known: Callable[[str], bool]) -> str:
    """Check ``{"msgtype": t, t: {...}}``; returns the msgtype."""
    msgtype = msg.get("msgtype")
    if not msgtype:
        raise missing("msg.msgtype")
    if not isinstance(msgtype, str) or msgtype not in REQUIRED_KEYS:
        raise invalid("msg.msgtype", f"unknown msgtype {msgtype!r}")
    inner = msg.get(msgtype)
    if inner is None:
        raise missing(f"msg.{msgtype}")
    if not isinstance(inner, dict):
        raise invalid(f"msg.{msgtype}", "must be a JSON object")
    _require(inner, f"msg.{msgtype}", REQUIRED_KEYS[msgtype])
    if msgtype in ("image", "voice", "file"):
        _check_media(inner["media_id"], f"msg.{msgtype}.media_id", media_known)
    if msgtype == "voice":
        duration = as_int(inner["duration"], "msg.voice.duration")
        if not 0 < duration <= 60:
            raise invalid("msg.voice.duration", "must be 1..60 seconds")
    elif msgtype == "oa":
        _validate_oa(inner, media_known)
    elif msgtype == "action_card":
        _validate_action_card(inner)
    return msgtype


def _check_media(media_id: Any, name: str, media_known: Callable[[str], bool]) -> None:
    if not isinstance(media_id, str) or not media_known(media_id):
        raise invalid(name, f"unknown media_id {media_id!r}")


def _validate_oa(oa: dict[str, Any], media_known: Callable[[str], bool]) -> None:
    for part in ("head", "body"):
        if not isinstance(oa[part], dict):
            raise invalid(f"msg.oa.{part}", "must be a JSON object")
    image = oa["body"].get("image")
    if image:
        _check_media(image, "msg.oa.body.image", media_known)


def _validate_action_card(card: dict[str, Any]) -> None:
    if card.get("single_title") or card.get("single_url"):
        _require(card, "msg.action_card", ("single_title", "single_url"))
        return
    if card.get("btn_orientation") is None and card.get("btn_json_list") is None:
        raise missing("msg.action_card.single_title/single_url or btn_json_list")
    _require(card, "msg.action_card", ("btn_orientation", "btn_json_list"))
    buttons = card["btn_json_list"]
    if isinstance(buttons, str):
        try:
            buttons = decode(buttons)
        except msgspec.DecodeError:
            raise invalid("msg.action_card.btn_json_list", "not JSON") from None
    if not isinstance(buttons, list) or not buttons:
        raise invalid("msg.action_card.btn_json_list", "must be a non-empty array")
    for i, button in enumerate(buttons):
        if not isinstance(button, dict):
            raise invalid(f"msg.action_card.btn_json_list[{i}]", "must be an object")
        _require(button, f"msg.action_card.btn_json_list[{i}]", ("title", "action_url"))


def parse_crossdomain(body: dict[str, Any]) -> dict[str, Any]:
    """Validate ``crossdomain_message_send_model``; returns the model as an object."""
    model = as_object(body.get("crossdomain_message_send_model"),
                      "crossdomain_message_send_model")
    prefix = "crossdomain_message_send_model"
    for key in ("sender", "message_id"):
        if not isinstance(model.get(key), str | int) or model.get(key) == "":
            raise missing(f"{prefix}.{key}")
    send = as_object(model.get("send_message_model"), f"{prefix}.send_message_model")
    sub = f"{prefix}.send_message_model"
    as_int(send.get("conversation_type"), f"{sub}.conversation_type")
    content_type = as_int(send.get("content_type"), f"{sub}.content_type")
    if content_type not in (1, 2):
        raise invalid(f"{sub}.content_type", "must be 1 (text) or 2 (card)")
    for key in ("uuid", "cid"):
        if not isinstance(send.get(key), str) or not send[key]:
            raise missing(f"{sub}.{key}")
    content = send.get("content")
    if content is None or content == "":
        raise missing(f"{sub}.content")
    if not isinstance(content, str):
        raise invalid(f"{sub}.content", "must be a string holding JSON")
    try:
        decode(content)
    except msgspec.DecodeError:
        raise invalid(f"{sub}.content", "not valid JSON") from None
    scope = model.get("message_receiver_scope_model")
    if scope is not None:
        scope = as_object(scope, f"{prefix}.message_receiver_scope_model")
        receivers = scope.get("actual_receivers")
        if receivers is not None and (
            not isinstance(receivers, list) or not all(isinstance(r, str) for r in receivers)
        ):
            raise invalid(f"{prefix}.message_receiver_scope_model.actual_receivers",
                          "must be an array of strings")
    mute = model.get("new_conversation_notification_off")
    if mute is not None:
        as_bool(mute, f"{prefix}.new_conversation_notification_off")
    return {**model, "send_message_model": send}
