"""The oapi family's answers: the ``errcode`` envelope, its decoders, and its error map.

Every oapi answer is HTTP 200 with ``{"errcode": 0, ...}`` on success. A non-zero code is
typed here, once, from the *effective* code (``sub_code`` when DingTalk wraps it in 88),
and a rate-limit code carries how long its API stays closed (``RateLimitedError.pause``):

    90018, 90019   the API's one-second window is full         closed 1 s
    90005, 90006   the minute's budget (another process drew)  closed 5 s
    90002          every app together hit the API's ceiling    closed 2 s
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from .._errors import (
    CredentialsError,
    DingNotifyError,
    DingTalkError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExhaustedError,
    RateLimitedError,
    ResponseDecodeError,
    ServerBusyError,
    TokenError,
    effective_code,
)
from .._redact import Secret, scrub
from ._ban import banned

TOKEN_ERRCODES = frozenset({40014, 42001, 40001, 33001})
PAUSE_QPS = 1.0
PAUSE_MINUTE = 5.0
PAUSE_PLATFORM = 2.0
PAUSES = {90018: PAUSE_QPS, 90019: PAUSE_QPS, 90005: PAUSE_MINUTE, 90006: PAUSE_MINUTE,
          90002: PAUSE_PLATFORM}

_CLASSES: dict[int, type[DingTalkError]] = {
    **dict.fromkeys((40089, 40096), CredentialsError),
    **dict.fromkeys(TOKEN_ERRCODES, TokenError),
    **dict.fromkeys(PAUSES, RateLimitedError),
    90020: QuotaExhaustedError,
    -1: ServerBusyError,
    **dict.fromkeys((60011, 60020, 11), PermissionDeniedError),
    **dict.fromkeys((60121, 404, 22), NotFoundError),
    **dict.fromkeys((40035, 43009, 33012, 40078, 41), InvalidArgumentError),
}


class Envelope(msgspec.Struct, kw_only=True):
    errcode: int
    errmsg: str = ""
    sub_code: str | None = None
    sub_msg: str | None = None
    request_id: str | None = None


class TokenResponse(Envelope):
    access_token: str | None = None
    expires_in: float | None = None


class DictAnswer(Envelope):
    """Any endpoint's answer: the envelope fields, and ``data`` with the whole object."""

    data: dict[str, Any] = msgspec.field(default_factory=dict)


E = TypeVar("E", bound=Envelope)
_dict_decoder = msgspec.json.Decoder(dict[str, Any])
_decoders: dict[type[Any], Callable[[bytes], Any]] = {}


def _decode_dict(body: bytes) -> DictAnswer:
    data = _dict_decoder.decode(body)
    answer = msgspec.convert(data, DictAnswer, strict=False)
    return msgspec.structs.replace(answer, data=data)


def envelope_decoder(kind: type[E]) -> Callable[[bytes], E]:
    """One lenient decoder per envelope type (numbers may arrive as strings)."""
    found = _decoders.get(kind)
    if found is None:
        found = _decoders[kind] = (
            _decode_dict if kind is DictAnswer else msgspec.json.Decoder(kind, strict=False).decode
        )
    return found  # type: ignore[return-value]


def error_for(
    errcode: int,
    errmsg: str = "",
    *,
    sub_code: str | None = None,
    sub_msg: str | None = None,
    request_id: str | None = None,
    path: str | None = None,
) -> DingTalkError:
    """The most specific ``DingTalkError`` for an oapi error envelope."""
    code = effective_code(errcode, sub_code)
    cls = _CLASSES.get(code, DingTalkError)
    error = cls(errcode, errmsg, sub_code=sub_code, sub_msg=sub_msg, request_id=request_id,
                path=path)
    if isinstance(error, RateLimitedError) and code in PAUSES:
        error.pause = PAUSES[code]
    return error


def undecodable(body: bytes, problem: str, where: str, secrets: tuple[Secret | None, ...]
                ) -> DingNotifyError:
    """``IPBannedError`` for the ban page, else a ``ResponseDecodeError`` naming ``where``
    (a path, no secrets) with the first bytes of the body, secrets masked."""
    ban = banned(body, where)
    if ban is not None:
        return ban
    snippet = scrub(body[:80].decode("utf-8", "replace"), *secrets)
    return ResponseDecodeError(
        f"{where}: undecodable response ({problem}); body starts {snippet!r}")


def answer_or_error(
    body: bytes, decode: Callable[[bytes], E], where: str, secrets: tuple[Secret | None, ...]
) -> E | DingNotifyError:
    """The decoded envelope of a zero ``errcode``, or the typed error to raise.

    DingTalk sometimes echoes request parameters in ``errmsg``: ``secrets`` are masked."""
    try:
        envelope = decode(body)
    except msgspec.DecodeError as exc:
        return undecodable(body, str(exc), where, secrets)
    if envelope.errcode == 0:
        return envelope
    return error_for(
        envelope.errcode,
        scrub(envelope.errmsg, *secrets),
        sub_code=envelope.sub_code,
        sub_msg=None if envelope.sub_msg is None else scrub(envelope.sub_msg, *secrets),
        request_id=envelope.request_id,
        path=where,
    )
