"""Card data as DingTalk takes it: string values only, and the ``openSpaceId`` of a call.

``cardParamMap`` values are strings; anything else a caller gives is JSON-encoded for
them (numbers ``"1200"``, booleans ``"true"``, lists and objects as JSON text), the rule
DingTalk's own card examples follow. A value of the wrong type for its template variable is
silently not shown by DingTalk, so converting here is kinder than refusing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from .._errors import ValidationError

MAX_KEY_BYTES = 100
MAX_VALUE_BYTES = 1024
SPACE_PREFIX = "dtv1.card//"

_encode = msgspec.json.Encoder().encode


def card_param_map(data: Mapping[str, Any] | None, *, where: str = "data") -> dict[str, str]:
    """``data`` with every value a string (non-strings JSON-encoded), keys at most 100
    bytes and values at most 1 KB (DingTalk's limits), else ``ValidationError``."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValidationError(f"{where} must be a mapping of variable name to value")
    out: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"{where} keys must be non-empty strings")
        if len(key.encode()) > MAX_KEY_BYTES:
            raise ValidationError(f"{where} key {key[:20]!r}... is over {MAX_KEY_BYTES} bytes")
        try:
            text = value if isinstance(value, str) else _encode(value).decode()
        except (TypeError, msgspec.EncodeError):
            raise ValidationError(f"{where}[{key!r}] is not JSON-encodable") from None
        if len(text.encode()) > MAX_VALUE_BYTES:
            raise ValidationError(f"{where}[{key!r}] is over {MAX_VALUE_BYTES} bytes")
        out[key] = text
    return out


def private_param_maps(private: Mapping[str, Mapping[str, Any]] | None
                       ) -> dict[str, dict[str, dict[str, str]]]:
    """``{userid: {"cardParamMap": {...}}}`` of per-user data."""
    if private is None:
        return {}
    if not isinstance(private, Mapping):
        raise ValidationError("private_data must map a userid to its data")
    return {_text("private_data userid", uid): {"cardParamMap": card_param_map(
        values, where=f"private_data[{uid!r}]")} for uid, values in private.items()}


def open_space_id(spaces: Sequence[tuple[str, str]]) -> str:
    """``dtv1.card//IM_ROBOT.u1;IM_GROUP.cid`` (types upper case, as the SDKs send)."""
    return SPACE_PREFIX + ";".join(f"{kind}.{ident}" for kind, ident in spaces)


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty string")
    if ";" in value:
        raise ValidationError(f"{name} must not contain ';' (it separates spaces)")
    return value


def space_ids(userids: Sequence[object], open_conversation_id: str | None
              ) -> list[tuple[str, str]]:
    """The spaces of one delivery: a robot chat per user, then the group if any."""
    spaces = [("IM_ROBOT", _text("userids item", u)) for u in dict.fromkeys(userids)]
    if open_conversation_id is not None:
        spaces.append(("IM_GROUP", _text("open_conversation_id", open_conversation_id)))
    if not spaces:
        raise ValidationError("give userids=, open_conversation_id= or both")
    return spaces
