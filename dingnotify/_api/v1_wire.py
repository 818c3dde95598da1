"""The new-generation (v1.0) family's answers: token and error bodies, and its error map.

``api.dingtalk.com`` answers errors with a non-2xx status and a ``{"code", "message",
"requestid"}`` body; the code's last segment says what went wrong:

    InvalidAuthentication, 401         TokenError (refreshed once, retried once)
    invalidClientIdOrSecret            CredentialsError
    *QpsLimitForAppkeyAndApi, 429      RateLimitedError, the API closed 1 s (retried)
    *QpsLimitForApi                    RateLimitedError, the API closed 2 s (retried)
    *ApiCountLimitForOrg               QuotaExhaustedError
    other 400                          InvalidArgumentError
    other 403                          PermissionDeniedError
    404                                NotFoundError
    5xx                                ServerError (retried)

``errcode`` is the HTTP status, ``sub_code`` DingTalk's ``code``, ``errmsg`` its
``message`` (secrets masked) and ``request_id`` its ``requestid``.
"""

from __future__ import annotations

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
    TokenError,
    status_error_for,
)
from .._http import retry_after
from .._redact import Secret, scrub
from .._transport import ResponseLike

TOKEN_CODES = frozenset({"InvalidAuthentication", "InvalidAccessToken"})
CREDENTIAL_CODES = frozenset({"invalidClientIdOrSecret", "InvalidClientIdOrSecret"})
QPS_APP = "QpsLimitForAppkeyAndApi"
QPS_API = "QpsLimitForApi"
MONTHLY = "ApiCountLimitForOrg"
PAUSES = {QPS_APP: 1.0, QPS_API: 2.0}
PAUSE_429 = 1.0


class TokenAnswer(msgspec.Struct, kw_only=True, rename="camel"):
    """``POST /v1.0/oauth2/accessToken``: ``expireIn`` in seconds."""

    access_token: str | None = None
    expire_in: int | None = None


class ErrorAnswer(msgspec.Struct, kw_only=True):
    """The body of every non-2xx answer; ``requestid`` is all lower case on the wire."""

    code: str | None = None
    message: str | None = None
    request_id: str | None = msgspec.field(default=None, name="requestid")


_token_decoder = msgspec.json.Decoder(TokenAnswer, strict=False)
_error_decoder = msgspec.json.Decoder(ErrorAnswer, strict=False)


def decode_token(body: bytes) -> TokenAnswer:
    try:
        return _token_decoder.decode(body)
    except msgspec.DecodeError as exc:
        problem = str(exc)
    raise ResponseDecodeError(f"oauth2/accessToken: undecodable response ({problem})")


def decode_error(body: bytes) -> ErrorAnswer:
    """Never raises: an error body that is not JSON yields an empty ``ErrorAnswer``."""
    try:
        return _error_decoder.decode(body)
    except msgspec.DecodeError:
        return ErrorAnswer()


def _last(code: str | None) -> str:
    """``Forbidden.AccessDenied.QpsLimitForApi`` -> ``QpsLimitForApi``."""
    return (code or "").rsplit(".", 1)[-1]


def v1_error(response: ResponseLike, where: str, path: str, secrets: tuple[Secret | None, ...]
             ) -> DingNotifyError:
    """The typed error for a non-2xx answer (see the module docstring); ``where`` is the
    method and redacted URL, ``path`` the API's path."""
    status = response.status
    answer = decode_error(response.content)
    code, last = answer.code, _last(answer.code)
    message = scrub(answer.message or f"HTTP {status}", *secrets)
    cls: type[DingTalkError] = DingTalkError
    if last == MONTHLY:
        cls = QuotaExhaustedError
    elif last in PAUSES or status == 429:
        cls = RateLimitedError
    elif code in CREDENTIAL_CODES:
        cls = CredentialsError
    elif code in TOKEN_CODES or status == 401:
        cls = TokenError
    elif not 400 <= status < 500:
        text = f"{where} answered HTTP {status}"
        if answer.request_id:
            text += f" request_id={answer.request_id}"
        return status_error_for(status, text, retry_after=retry_after(response))
    elif status == 404:
        cls = NotFoundError
    elif status == 403:
        cls = PermissionDeniedError
    elif status == 400:
        cls = InvalidArgumentError
    error = cls(status, message, sub_code=code, request_id=answer.request_id, path=path)
    if cls is RateLimitedError:
        error.pause = PAUSES.get(last, PAUSE_429)  # type: ignore[attr-defined]
    return error
