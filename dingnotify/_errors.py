"""The exception tree.

    DingNotifyError
    ├── DingTalkError                 a non-zero ``errcode`` from DingTalk
    │   ├── CredentialsError          40089, 40096: wrong appkey/appsecret
    │   ├── TokenError                40014, 42001, 40001, 33001: refreshed once, then raised
    │   ├── RateLimitedError          90002, 90005, 90006, 90018, 90019 (retried)
    │   │   ├── QuotaExhaustedError   90020: the organisation's monthly calls are used up
    │   │   └── IPBannedError         the per-IP ban page (``wait`` seconds to go)
    │   ├── ServerBusyError           -1 (retried)
    │   ├── PermissionDeniedError     60011, 60020, 11
    │   ├── NotFoundError             60121, 404, 22
    │   └── InvalidArgumentError      40035, 43009, 33012, 40078, 41
    ├── TopError                      a TOP gateway ``error_response``
    │   └── TopBusyError              7, 8, 10 and ``isp.*`` busy/limit codes (retried)
    ├── TopBusinessError              a TOP API answered ``success: false``
    ├── TransportError                no usable DingTalk answer
    │   ├── ConnectionFailedError     connect/reset/dropped connection (retried)
    │   ├── RequestTimeoutError       also a ``TimeoutError`` (retried)
    │   │   ├── BroadcastTimeoutError a broadcast's deadline passed before a batch was sent
    │   │   └── DeliveryTimeoutError  ``wait`` ran out of time
    │   ├── HTTPStatusError           HTTP status other than 200
    │   │   ├── ServerError           5xx (retried)
    │   │   ├── TooManyRequestsError  429 (retried, ``Retry-After`` honoured)
    │   │   └── RedirectError         3xx: never followed, credentials stay home
    │   └── ResponseDecodeError       a body that is not the JSON we expect
    ├── BroadcastCancelledError       the broadcast was cancelled before this batch was sent
    ├── ClientClosedError             a call on a closed client
    └── ValidationError               also a ``ValueError``: bad input, nothing was sent
        └── MessageTooLargeError      encoded ``msg`` over 2048 bytes

Whether an error is worth retrying is its class's ``retryable`` attribute, and nothing else;
``RetryPolicy(retry_on=...)`` adds classes. ``maybe_sent`` on a ``TransportError`` says
whether the request may have reached DingTalk (a timeout after writing it, a dropped
answer): a broadcast reports such batches as *unknown*, not failed.

``partial_result`` is on every error, ``None`` unless the operation that raised it had
confirmed something first: ``wait`` (and ``settle``/``deliver``) stopped by a fatal poll
error or by its ``timeout`` (``DeliveryTimeoutError``) sets it to the merged result of the
tasks it had confirmed (a ``SendResult`` for work notifications), so a long wait never
discards what it learnt. It lives on the root class because a wait can be stopped by any
kind of error.

Each API family turns its answers into these classes in one error map of its own
(``dingnotify._api``: ``oapi_wire``, ``v1_wire``, ``top``, ``webhook_errors``); the oapi
map reads the *effective* code: ``sub_code`` when DingTalk wraps the error in errcode 88,
else ``errcode``. Messages never carry an access token or app secret.
"""

from __future__ import annotations

from typing import Any

WRAPPER_ERRCODE = 88
IP_BAN_STATUS = 1111


class DingNotifyError(Exception):
    """Root of every error this SDK raises on purpose.

    ``token_fetch`` is set on errors raised while fetching an access token: whatever their
    kind, they draw on ``RetryPolicy.max_attempts``, so a call never makes more token
    requests than that. ``partial_result``: what a ``wait`` had confirmed before this error
    stopped it (see the module docstring), else None.
    """

    retryable: bool = False
    token_fetch: bool = False
    partial_result: Any = None


class ValidationError(DingNotifyError, ValueError):
    """Input rejected before any request was sent."""


class MessageTooLargeError(ValidationError):
    """The encoded ``msg`` object exceeds DingTalk's 2048-byte limit."""


class ClientClosedError(DingNotifyError):
    """The client was closed; make a new one (or keep it open for the process's life)."""


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
    """The access token is invalid or expired (already refreshed once)."""


class RateLimitedError(DingTalkError):
    """A DingTalk QPS limit was hit; the call was not processed, so it is safe to retry.

    ``pause`` is how many seconds the answer closes its API (its family's error map sets
    it from the code); the quota governor keeps the API closed that long.
    """

    retryable = True
    pause: float = 1.0


class QuotaExhaustedError(RateLimitedError):
    """The organisation's monthly call quota is used up: nothing succeeds until next month."""

    retryable = False
    pause = 0.0


class IPBannedError(RateLimitedError):
    """DingTalk banned this machine's IP for a while (too many calls from it).

    The answer is not an errcode envelope but a ban page; ``errcode`` holds its ``status``
    (1111) and ``wait`` the seconds DingTalk asks us to stay away.
    """

    def __init__(self, wait: float, *, path: str | None = None) -> None:
        self.wait = self.pause = wait
        super().__init__(IP_BAN_STATUS, f"IP banned, retry in {wait:g}s", path=path)


class ServerBusyError(DingTalkError):
    """DingTalk said it is busy (errcode -1)."""

    retryable = True


class PermissionDeniedError(DingTalkError):
    """The app lacks a scope, or the caller IP is not whitelisted."""


class NotFoundError(DingTalkError):
    """The user, task or API does not exist."""


class InvalidArgumentError(DingTalkError):
    """DingTalk rejected a parameter."""


class TopError(DingNotifyError):
    """The TOP gateway answered with an ``error_response``."""

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


class TopBusyError(TopError):
    """The gateway or the API behind it is busy or rate limited; safe to retry."""

    retryable = True


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
    maybe_sent = True

    def __init__(self, message: str, *, maybe_sent: bool | None = None) -> None:
        super().__init__(message)
        if maybe_sent is not None:
            self.maybe_sent = maybe_sent


class ConnectionFailedError(TransportError):
    """The connection could not be made, or was dropped mid-request."""


class RequestTimeoutError(TransportError, TimeoutError):
    """The request did not finish within its timeout."""


class BroadcastTimeoutError(RequestTimeoutError):
    """The broadcast's overall deadline passed before this batch was sent."""

    retryable = False
    maybe_sent = False


class DeliveryTimeoutError(RequestTimeoutError):
    """``wait`` ran out of time; ``pending`` lists the tasks DingTalk had not finished,
    ``partial_result`` merges the results of those it had (None if none was)."""

    retryable = False

    def __init__(self, message: str, pending: list[int]) -> None:
        super().__init__(message, maybe_sent=False)
        self.pending = pending


class HTTPStatusError(TransportError):
    """The server answered with an HTTP status other than 200."""

    retryable = False
    maybe_sent = False

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ServerError(HTTPStatusError):
    """HTTP 5xx: a gateway or server fault, usually passing."""

    retryable = True


class TooManyRequestsError(HTTPStatusError):
    """HTTP 429."""

    retryable = True


class RedirectError(HTTPStatusError):
    """HTTP 3xx. Never followed: the request carries credentials meant for DingTalk only."""


class ResponseDecodeError(TransportError):
    """The body was not the JSON document the API promises."""

    retryable = False


class BroadcastCancelledError(DingNotifyError):
    """The broadcast was cancelled before this batch was sent."""


def effective_code(errcode: int, sub_code: str | None) -> int:
    """``sub_code`` as an int when DingTalk wrapped the error in 88, else ``errcode``."""
    if errcode == WRAPPER_ERRCODE and sub_code is not None:
        try:
            return int(sub_code)
        except ValueError:
            return errcode
    return errcode


def status_error_for(
    status: int, message: str, *, retry_after: float | None = None
) -> HTTPStatusError:
    """The ``HTTPStatusError`` subclass for an HTTP status."""
    if 300 <= status < 400:
        cls: type[HTTPStatusError] = RedirectError
    elif status == 429:
        cls = TooManyRequestsError
    elif status >= 500:
        cls = ServerError
    else:
        cls = HTTPStatusError
    return cls(status, message, retry_after=retry_after)
