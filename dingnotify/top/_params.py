"""Business parameters as TOP wants them: strings, with objects as compact JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from .._errors import ValidationError

SYSTEM_PARAMS = frozenset({"method", "app_key", "timestamp", "v", "format", "sign_method",
                           "sign", "session", "simplify", "partner_id", "target_app_key"})
_encode = msgspec.json.Encoder().encode


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value]
    return value


def to_param(name: str, value: object) -> str | None:
    """One parameter's wire string; None means "not sent"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, msgspec.Struct):
        return _encode(value).decode()
    if isinstance(value, dict | list | tuple):
        try:
            return _encode(_drop_none(value)).decode()
        except (TypeError, msgspec.EncodeError) as exc:
            raise ValidationError(f"parameter {name!r} cannot be sent as JSON: {exc}") from None
    raise ValidationError(f"parameter {name!r} has unsupported type {type(value).__name__}")


def business_params(params: Mapping[str, object] | None) -> dict[str, str]:
    """Every non-None parameter as a string; names must not clash with TOP's own."""
    out: dict[str, str] = {}
    for name, value in (params or {}).items():
        if not isinstance(name, str) or not name:
            raise ValidationError("parameter names must be non-empty strings")
        if name in SYSTEM_PARAMS:
            raise ValidationError(f"{name!r} is a TOP system parameter; set it on TopClient")
        text = to_param(name, value)
        if text is not None:
            out[name] = text
    return out
