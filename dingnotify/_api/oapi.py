"""The oapi family (``oapi.dingtalk.com``): the token in the query, the errcode envelope.

``fetch_oapi_token`` is the plain function a ``TokenRefresher`` is built around;
``OapiCaller`` sends every other call through the shared attempt loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from yarl import URL

from .._constants import JSON_CONTENT_TYPE, PATH_GETTOKEN
from .._coordination import Priority
from .._errors import DingNotifyError, ResponseDecodeError
from .._http import HttpCore
from .._redact import Secret
from .._retry import RetryHook, RetryPolicy
from .._transport import JSON_HEADERS, Request, ResponseLike, frozen_headers
from ._call import Call, Caller, Endpoints, Secrets, read_once, status_failure
from .oapi_wire import E, Envelope, TokenResponse, answer_or_error, envelope_decoder

T = TypeVar("T")
_decode_token = envelope_decoder(TokenResponse)


class OapiFamily(Endpoints):
    """``access_token`` in the query; an answer is HTTP 200 with an ``errcode`` envelope."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self._signed_for: Secret | None = None
        self._signed: dict[str, URL] = {}

    def _signed_url(self, path: str, token: Secret, query: Mapping[str, str] | None) -> URL:
        """The URL with ``access_token`` in its query. Without other parameters it is
        kept per path until the token changes: encoding a query on every request of a
        broadcast costs more than the rest of building it."""
        if query:
            return self.url(path).with_query({"access_token": token.reveal(), **query})
        if token is not self._signed_for:
            self._signed_for, self._signed = token, {}
        signed = self._signed.get(path)
        if signed is None:
            signed = self._signed[path] = self.url(path).with_query(access_token=token.reveal())
        return signed

    def request(self, call: Call[Any], token: Secret | None, timeout: float) -> Request:
        assert token is not None
        return Request(call.method, self._signed_url(call.path, token, call.query),
                       headers=call.headers, content=call.body, timeout=timeout)

    def outcome(
        self, response: ResponseLike, request: Request, call: Call[T], secrets: Secrets
    ) -> T | DingNotifyError:
        if response.status != 200:
            return status_failure(response, request)
        return answer_or_error(response.content, call.decode, call.path,  # type: ignore[type-var]
                               secrets)


async def fetch_oapi_token(
    http: HttpCore, family: OapiFamily, app_key: str, app_secret: Secret, timeout: float
) -> tuple[Secret, float]:
    """One ``GET /gettoken``: the token and its lifetime in seconds (0 when not given)."""
    request = Request(
        "GET", family.url(PATH_GETTOKEN).with_query(appkey=app_key,
                                                    appsecret=app_secret.reveal()),
        timeout=timeout,
    )
    answer = await read_once(http, family, request, Call("GET", PATH_GETTOKEN, _decode_token),
                             (app_secret,))
    if not answer.access_token:
        raise ResponseDecodeError(f"{PATH_GETTOKEN}: response has no access_token")
    return Secret(answer.access_token), float(answer.expires_in or 0)


class OapiCaller(Caller):
    """The oapi family's caller, with ``send`` for calls that decode an envelope type."""

    def send(
        self,
        method: str,
        path: str,
        kind: type[E],
        *,
        body: bytes | None = None,
        content_type: str | None = JSON_CONTENT_TYPE,
        query: Mapping[str, str] | None = None,
        recipients: int = 0,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_attempt: Callable[[], None] | None = None,
        on_retry: RetryHook | None = None,
        priority: Priority = "interactive",
    ) -> Awaitable[E]:
        """One call, to await: the decoded envelope of a zero ``errcode``, else a typed
        error (no coroutine of its own, see ``Caller.call``)."""
        headers = (
            None if body is None or not content_type
            else JSON_HEADERS if content_type == JSON_CONTENT_TYPE
            else frozen_headers({"Content-Type": content_type})
        )
        return self.call(
            Call(method, path, envelope_decoder(kind), body=body, headers=headers, query=query,
                 recipients=recipients, priority=priority),
            timeout=timeout, retry=retry, on_attempt=on_attempt, on_retry=on_retry)


__all__ = ["Envelope", "OapiCaller", "OapiFamily", "fetch_oapi_token"]
