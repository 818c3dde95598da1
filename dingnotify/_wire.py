"""Response envelopes as DingTalk sends them, and their decoders (built once)."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from ._errors import ResponseDecodeError
from ._redact import redact


class Envelope(msgspec.Struct, kw_only=True):
    errcode: int
    errmsg: str = ""
    sub_code: str | None = None
    sub_msg: str | None = None
    request_id: str | None = None


class TokenResponse(Envelope):
    access_token: str | None = None
    expires_in: float | None = None


class MobileResponse(Envelope):
    userid: str | None = None


class MobileV2Result(msgspec.Struct, kw_only=True):
    userid: str
    exclusive_account_userid_list: list[str] = msgspec.field(default_factory=list)


class MobileV2Response(Envelope):
    result: MobileV2Result | None = None


class SendResponse(Envelope):
    task_id: int | None = None


class Progress(msgspec.Struct, kw_only=True):
    progress_in_percent: int = 0
    status: int = 0


class ProgressResponse(Envelope):
    progress: Progress | None = None


StrList = list[str | int] | str | None


class ForbiddenItem(msgspec.Struct, kw_only=True):
    userid: str
    code: str | int = ""
    count: int = 0


class RawSendResult(msgspec.Struct, kw_only=True):
    invalid_user_id_list: StrList = None
    forbidden_user_id_list: StrList = None
    failed_user_id_list: StrList = None
    read_user_id_list: StrList = None
    unread_user_id_list: StrList = None
    invalid_dept_id_list: StrList = None
    forbidden_list: list[ForbiddenItem] | None = None


class ResultResponse(Envelope):
    send_result: RawSendResult | None = None


class MediaResponse(Envelope):
    media_id: str | None = None
    type: str | None = None
    created_at: int | None = None


E = TypeVar("E", bound=Envelope)
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decoder_for(kind: type[E]) -> msgspec.json.Decoder[E]:
    """One lenient decoder per envelope type (numbers may arrive as strings)."""
    found = _decoders.get(kind)
    if found is None:
        found = _decoders[kind] = msgspec.json.Decoder(kind, strict=False)
    return found


def decode(body: bytes, kind: type[E], where: str) -> E:
    """Decode ``body`` or raise ``ResponseDecodeError`` naming ``where`` (a path, no secrets)."""
    try:
        return decoder_for(kind).decode(body)
    except msgspec.DecodeError as exc:
        snippet = redact(body[:80].decode("utf-8", "replace"))
        raise ResponseDecodeError(
            f"{where}: undecodable response ({exc}); body starts {snippet!r}"
        ) from None


def split_list(value: StrList) -> list[str]:
    """A DingTalk id list that may be a JSON array or a comma string (older answers)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(item) for item in value]
