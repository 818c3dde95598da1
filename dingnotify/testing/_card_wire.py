"""The card API's wire rules as the emulator reads them (``/v1.0/card/*``).

Success is HTTP 200 ``{"success": true, "result": ...}``; errors are non-2xx
``{"requestid", "code", "message"}`` with the documented ``param.*`` codes (``message``
repeats ``code``, as DingTalk is seen doing). Card data maps hold strings only: any other
value is 400 ``param.invalid``; keys are at most 100 bytes and values 1 KB when
``check_sizes`` is on. ``openSpaceId`` is ``dtv1.card//TYPE.id;TYPE.id``, types read
case-insensitively.
"""

from __future__ import annotations

from typing import Any

from ._robot_wire import RobotError

MAX_KEY_BYTES = 100
MAX_VALUE_BYTES = 1024
MAX_STREAM_BYTES = 1024
SPACE_PREFIX = "dtv1.card//"
SPACE_TYPES = frozenset({"IM_ROBOT", "IM_GROUP", "IM_SINGLE", "ONE_BOX"})
DELIVER_MODELS = {"IM_ROBOT": "imRobotOpenDeliverModel", "IM_GROUP": "imGroupOpenDeliverModel",
                  "IM_SINGLE": "imSingleOpenDeliverModel", "ONE_BOX": "topOpenDeliverModel"}
SPACE_MODELS = {"IM_ROBOT": "imRobotOpenSpaceModel", "IM_GROUP": "imGroupOpenSpaceModel",
                "IM_SINGLE": "imSingleOpenSpaceModel", "ONE_BOX": "topOpenSpaceModel"}
CARD_PERMISSION = "Card.Instance.Write"
STREAM_PERMISSION = "Card.Streaming.Write"


def card_error(code: str, status: int = 400, message: str | None = None) -> RobotError:
    return RobotError(status, code, message or code)


def text(body: dict[str, Any], name: str, code: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise card_error(code)
    return value


def param_map(value: object, *, check_sizes: bool, where: str) -> dict[str, str]:
    """A ``cardParamMap``: strings only, within the size limits."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise card_error("param.invalid", message=f"{where} must be an object")
    for key, item in value.items():
        if not isinstance(item, str):
            raise card_error("param.invalid", message=f"{where}.{key} must be a string")
        if check_sizes and (len(key.encode()) > MAX_KEY_BYTES
                            or len(item.encode()) > MAX_VALUE_BYTES):
            raise card_error("param.invalid", message=f"{where}.{key} is too large")
    return dict(value)


def card_data(body: dict[str, Any], name: str, check_sizes: bool) -> dict[str, str] | None:
    """``{name: {"cardParamMap": {...}}}`` -> the map, None when ``name`` is absent."""
    data = body.get(name)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise card_error("param.invalid", message=f"{name} must be an object")
    return param_map(data.get("cardParamMap"), check_sizes=check_sizes, where=name)


def private_data(body: dict[str, Any], check_sizes: bool) -> dict[str, dict[str, str]]:
    raw = body.get("privateData")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise card_error("param.invalid", message="privateData must be an object")
    return {uid: card_data(raw, uid, check_sizes) or {} for uid in raw}


def spaces(open_space_id: object) -> list[tuple[str, str]]:
    """``[(TYPE, id), ...]`` of an ``openSpaceId``."""
    if not isinstance(open_space_id, str) or not open_space_id:
        raise card_error("param.openSpaceIdEmpty")
    if not open_space_id.lower().startswith(SPACE_PREFIX):
        raise card_error("param.openSpaceIdInvalid")
    found: list[tuple[str, str]] = []
    for part in open_space_id[len(SPACE_PREFIX):].split(";"):
        kind, _, ident = part.partition(".")
        if kind.upper() not in SPACE_TYPES or not ident:
            raise card_error("param.openSpaceIdInvalid")
        found.append((kind.upper(), ident))
    return found
