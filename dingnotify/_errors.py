"""The exception tree.

    DingNotifyError
    ├── DingTalkError                 a non-zero ``errcode`` from DingTalk
    │   ├── CredentialsError          40089, 40096: wrong appkey/appsecret (never retried)
    │   ├── TokenError                40014, 42001, 40001, 33001: refresh once, retry once
    │   ├── RateLimitedError          90002, 90005, 90006, 90018, 90019, 90020
    │   ├── ServerBusyError           -1
    │   ├── PermissionDeniedError     60011, 60020, 11
    │   ├── NotFoundError             60121, 404, 22
    │   └── InvalidArgumentError      40035, 43009, 33012, 40078, 41
    ├── TopError                      a TOP gateway ``error_response``
    ├── TopBusinessError              a TOP API answered ``success: false``
    ├── TransportError                no usable DingTalk answer
    │   ├── ConnectionFailedError     connect/reset/dropped connection
    │   ├── RequestTimeoutError       also a ``TimeoutError``
    │   ├── HTTPStatusError           HTTP status other than 200
    │   └── ResponseDecodeError       a body that is not the JSON we expect
    └── ValidationError               also a ``ValueError``: bad input, nothing was sent
        └── MessageTooLargeError      encoded ``msg`` over 2048 bytes

Subclasses of ``DingTalkError`` are chosen from the *effective* code: ``sub_code``
when DingTalk wraps the error in errcode 88, else ``errcode``. Messages never carry
an access token or app secret.
"""

from __future__ import annotations

from typing import Any

RETRYABLE_ERRCODES = frozenset({-1, 90002, 90005, 90006, 90018, 90019})
TOKEN_ERRCODES = frozenset({40014, 42001, 40001, 33001})
WRAPPER_ERRCODE = 88


class DingNotifyError(Exception):
    """Root of every error this SDK raises on purpose."""

    retryable: bool = False


class ValidationError(DingNotifyError, ValueError):
    """Input rejected before any request was sent."""


class MessageTooLargeError(ValidationError):
    """The encoded ``msg`` object exceeds DingTalk's 2048-byte limit."""


class DingTalkError(DingNotifyError):
    """DingTalk answered with a non-zero ``errcode``."""

    def __init__(
        self,
        errcode: int,
        errmsg: str = "",
        *,
        sub_code: str | None = None,
        sub_msg: str | None = None,
        request_id: str | None = None,
        path: str | None = None,
    ) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.request_id = request_id
        self.path = path
        super().__init__(self._describe())

    @property
    def effective_code(self) -> int:
        """The code that says what went wrong: ``sub_code`` for 88-wrapped errors."""
        return effective_code(self.errcode, self.sub_code)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.effective_code in RETRYABLE_ERRCODES

    def _describe(self) -> str:
        text = f"errcode={self.errcode} errmsg={self.errmsg!r}"
        if self.sub_code is not None:
            text += f" sub_code={self.sub_code} sub_msg={self.sub_msg!r}"
        if self.path:
            text += f" path={self.path}"
        if self.request_id:
            text += f" request_id={self.request_id}"
        return text


class CredentialsError(DingTalkError):
    """App key or secret rejected; retrying cannot help."""


class TokenError(DingTalkError):
    """The access token is invalid or expired."""


class RateLimitedError(DingTalkError):
    """A DingTalk QPS or quota limit was hit."""


class ServerBusyError(DingTalkError):
    """DingTalk said it is busy (errcode -1)."""


class PermissionDeniedError(DingTalkError):
    """The app lacks a scope, or the caller IP is not whitelisted."""


class NotFoundError(DingTalkError):
    """The user, task or API does not exist."""


class InvalidArgumentError(DingTalkError):
    """DingTalk rejected a parameter."""


class TopError(DingNotifyError):
    """The TOP gateway answered with an ``error_response``."""

    RETRYABLE_CODES = frozenset({7, 8, 10})

    def __init__(
        self,
        code: int,
        msg: str = "",
        *,
        sub_code: str | None = None,
        sub_msg: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
    ) -> None:
        self.code = code
        self.msg = msg
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.request_id = request_id
        self.method = method
        text = f"code={code} msg={msg!r}"
        if sub_code is not None:
            text += f" sub_code={sub_code} sub_msg={sub_msg!r}"
        if method:
            text += f" method={method}"
        if request_id:
            text += f" request_id={request_id}"
        super().__init__(text)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        if self.code in self.RETRYABLE_CODES:
            return True
        sub = self.sub_code or ""
        return sub.startswith("isp.") and ("busy" in sub or "unavailable" in sub or "limit" in sub)


class TopBusinessError(DingNotifyError):
    """A TOP API returned ``success: false`` inside a normal response."""

    def __init__(
        self, code: str | None, msg: str | None, data: Any = None, request_id: str | None = None
    ) -> None:
        self.code = code
        self.msg = msg
        self.data = data
        self.request_id = request_id
        super().__init__(f"code={code!r} msg={msg!r} request_id={request_id}")


class TransportError(DingNotifyError):
    """No usable answer from the server. Messages hold redacted URLs only."""

    retryable = True


class ConnectionFailedError(TransportError):
    """The connection could not be made, or was dropped mid-request."""


class RequestTimeoutError(TransportError, TimeoutError):
    """The request did not finish within its timeout."""


class HTTPStatusError(TransportError):
    """The server answered with an HTTP status other than 200."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status == 429 or self.status >= 500


class ResponseDecodeError(TransportError):
    """The body was not the JSON document the API promises."""

    retryable = False


_ERRCODE_CLASSES: dict[int, type[DingTalkError]] = {
    **dict.fromkeys((40089, 40096), CredentialsError),
    **dict.fromkeys(TOKEN_ERRCODES, TokenError),
    **dict.fromkeys((90002, 90005, 90006, 90018, 90019, 90020), RateLimitedError),
    -1: ServerBusyError,
    **dict.fromkeys((60011, 60020, 11), PermissionDeniedError),
    **dict.fromkeys((60121, 404, 22), NotFoundError),
    **dict.fromkeys((40035, 43009, 33012, 40078, 41), InvalidArgumentError),
}


def effective_code(errcode: int, sub_code: str | None) -> int:
    """``sub_code`` as an int when DingTalk wrapped the error in 88, else ``errcode``."""
    if errcode == WRAPPER_ERRCODE and sub_code is not None:
        try:
            return int(sub_code)
        except ValueError:
            return errcode
    return errcode


def error_for(
    errcode: int,
    errmsg: str = "",
    *,
    sub_code: str | None = None,
    sub_msg: str | None = None,
    request_id: str | None = None,
    path: str | None = None,
) -> DingTalkError:
    """Build the most specific ``DingTalkError`` for a DingTalk error envelope."""
    cls = _ERRCODE_CLASSES.get(effective_code(errcode, sub_code), DingTalkError)
    return cls(
        errcode, errmsg, sub_code=sub_code, sub_msg=sub_msg, request_id=request_id, path=path
    )
