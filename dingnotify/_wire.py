"""Response envelopes as DingTalk sends them, and their decoders (built once)."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from ._constants import IP_BAN_SECONDS
from ._errors import IP_BAN_STATUS, IPBannedError, ResponseDecodeError
from ._redact import Secret, scrub


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
    userid: str | int | None = None
    code: str | int | None = None
    count: int | None = None


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


class DictAnswer(Envelope):
    """Any endpoint's answer: the envelope fields, and ``data`` with the whole object."""

    data: dict[str, Any] = msgspec.field(default_factory=dict)


_dict_decoder = msgspec.json.Decoder(dict[str, Any])
E = TypeVar("E", bound=Envelope)
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decoder_for(kind: type[E]) -> msgspec.json.Decoder[E]:
    """One lenient decoder per envelope type (numbers may arrive as strings)."""
    found = _decoders.get(kind)
    if found is None:
        found = _decoders[kind] = msgspec.json.Decoder(kind, strict=False)
    return found


class BanPage(msgspec.Struct):
    """DingTalk's per-IP ban answer: ``{"status":1111,"wait":5,"punish":"deny",...}``."""

    status: int | None = None
    wait: float | None = None
    punish: str | None = None


_ban_decoder = msgspec.json.Decoder(BanPage, strict=False)
_BAN_HTML_WAIT = re.compile(rb"(?i)wait\D{0,20}(\d{1,5})")


def ban_wait(body: bytes) -> float | None:
    """Seconds to stay away when ``body`` is the per-IP ban page (JSON or HTML), else None.

    An HTML ban page that names no wait gets DingTalk's documented ban length.
    """
    if body[:1] == b"{":
        try:
            page = _ban_decoder.decode(body)
        except msgspec.DecodeError:
            return None
        if page.status == IP_BAN_STATUS or page.punish == "deny":
            return max(0.0, page.wait if page.wait is not None else IP_BAN_SECONDS)
        return None
    if b"<" in body[:64] and (b"punish" in body or b"x5sec" in body or b"deny" in body):
        found = _BAN_HTML_WAIT.search(body)
        return float(found.group(1)) if found else IP_BAN_SECONDS
    return None


def decode(body: bytes, kind: type[E], where: str, *secrets: Secret | None) -> E | Exception:
    """``body`` decoded, or the error to raise (``ResponseDecodeError``, or ``IPBannedError``
    for the per-IP ban page) naming ``where`` (a path, no secrets).

    The error is returned, not raised, so that the caller raises it from a frame that holds
    no raw body: a body may echo the token or the secret, and tools capture frame locals.
    """
    try:
        if kind is DictAnswer:
            return _decode_dict(body)  # type: ignore[return-value]
        return decoder_for(kind).decode(body)
    except msgspec.DecodeError as exc:
        problem = str(exc)
    wait = ban_wait(body)
    if wait is not None:
        return IPBannedError(wait, path=where)
    snippet = scrub(body[:80].decode("utf-8", "replace"), *secrets)
    return ResponseDecodeError(
        f"{where}: undecodable response ({problem}); body starts {snippet!r}")


def _decode_dict(body: bytes) -> DictAnswer:
    data = _dict_decoder.decode(body)
    answer = msgspec.convert(data, DictAnswer, strict=False)
    return msgspec.structs.replace(answer, data=data)


def split_list(value: StrList) -> list[str]:
    """A DingTalk id list that may be a JSON array or a comma string (older answers)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(item) for item in value]
