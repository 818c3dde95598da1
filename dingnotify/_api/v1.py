"""The new-generation family (``api.dingtalk.com``, v1.0): the token in a header, the
HTTP status and a ``code`` for errors (``v1_wire``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import msgspec
from multidict import CIMultiDictProxy

from .._coordination import Priority
from .._errors import DingNotifyError, ResponseDecodeError
from .._http import HttpCore
from .._redact import Secret
from .._retry import RetryHook, RetryPolicy
from .._transport import JSON_HEADERS, Request, ResponseLike, frozen_headers
from ._ban import banned
from ._call import Call, Caller, Endpoints, Secrets, read_once
from .v1_wire import decode_token, v1_error

T = TypeVar("T")

DEFAULT_API_BASE_URL = "https://api.dingtalk.com"
PATH_TOKEN = "/v1.0/oauth2/accessToken"
TOKEN_HEADER = "x-acs-dingtalk-access-token"

_token_body = msgspec.json.Encoder().encode


class V1Family(Endpoints):
    """``x-acs-dingtalk-access-token`` header; any 2xx answer is the call's own body."""

    _headers_for: Secret | None = None
    _token_headers: tuple[CIMultiDictProxy[str], CIMultiDictProxy[str]]

    def _headers(self, token: Secret, json: bool) -> CIMultiDictProxy[str]:
        """The token header (and the JSON content type), built once per token."""
        if token is not self._headers_for:
            self._headers_for = token
            self._token_headers = (
                frozen_headers({TOKEN_HEADER: token.reveal()}),
                frozen_headers({TOKEN_HEADER: token.reveal(), **JSON_HEADERS}),
            )
        return self._token_headers[json]

    def request(self, call: Call[Any], token: Secret | None, timeout: float) -> Request:
        assert token is not None
        url = self.url(call.path)
        return Request(call.method, url.with_query(call.query) if call.query else url,
                       headers=self._headers(token, call.body is not None), content=call.body,
                       timeout=timeout)

    def outcome(
        self, response: ResponseLike, request: Request, call: Call[T], secrets: Secrets
    ) -> T | DingNotifyError:
        if not 200 <= response.status < 300:
            return v1_error(response, request.where, call.path, secrets)
        body = response.content
        if body[:1] != b"{" or b'"status"' in body[:64]:  # the per-IP ban page, maybe
            ban = banned(body, call.path)
            if ban is not None:
                return ban
        return call.decode(body)


async def fetch_v1_token(
    http: HttpCore, family: V1Family, app_key: str, app_secret: Secret, timeout: float
) -> tuple[Secret, float]:
    """One ``POST /v1.0/oauth2/accessToken``: the token and its lifetime in seconds."""
    request = Request(
        "POST", family.url(PATH_TOKEN), headers=JSON_HEADERS,
        content=_token_body({"appKey": app_key, "appSecret": app_secret.reveal()}),
        timeout=timeout,
    )
    answer = await read_once(http, family, request, Call("POST", PATH_TOKEN, decode_token),
                             (app_secret,))
    if not answer.access_token:
        raise ResponseDecodeError(f"{PATH_TOKEN}: response has no accessToken")
    return Secret(answer.access_token), float(answer.expire_in or 0)


class V1Caller(Caller):
    """The v1.0 family's caller, with ``send`` for calls that decode with a function."""

    def send(
        self,
        method: str,
        path: str,
        decode: Callable[[bytes], T],
        *,
        body: bytes | None = None,
        query: Mapping[str, str] | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_attempt: Callable[[], None] | None = None,
        on_retry: RetryHook | None = None,
        repeatable: bool = True,
        priority: Priority = "interactive",
    ) -> Awaitable[T]:
        """One call, to await: ``decode`` of a 2xx answer's body, else a typed error
        (``repeatable``: see ``Call``)."""
        return self.call(Call(method, path, decode, body=body, query=query,
                              repeatable=repeatable, priority=priority),
                               timeout=timeout, retry=retry, on_attempt=on_attempt,
                               on_retry=on_retry)
