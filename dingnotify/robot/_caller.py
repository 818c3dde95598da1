"""Robot API calls: quota slot, header token, non-2xx answers mapped to the error tree.

The new-generation API (``api.dingtalk.com``) answers errors with a non-2xx status and a
``{"code", "message", "requestid"}`` body, so unlike oapi calls the body of an error answer
matters: ``HttpCore.exchange`` returns every answer and ``robot_error`` types the non-2xx ones:

    InvalidAuthentication, 401         TokenError (refreshed once, retried once)
    invalidClientIdOrSecret            CredentialsError
    *QpsLimitForAppkeyAndApi, *QpsLimitForApi, 429
                                       RateLimitedError (retried)
    *ApiCountLimitForOrg               QuotaExhaustedError
    other 400                          InvalidArgumentError
    other 403                          PermissionDeniedError
    404                                NotFoundError
    5xx                                ServerError (retried)

``errcode`` is the HTTP status, ``sub_code`` DingTalk's ``code``, ``errmsg`` its
``message`` (secrets masked) and ``request_id`` its ``requestid``. Errors are built in
helper functions and raised outside ``except`` blocks: no frame or chained exception on
their traceback holds a token or the app secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import msgspec
from multidict import CIMultiDictProxy
from yarl import URL

from .._caller import ApiCaller
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
from .._http import HttpCore, retry_after
from .._redact import Secret, scrub
from .._retry import RetryHook, RetryPolicy
from .._transport import JSON_HEADERS, Request, ResponseLike, frozen_headers
from ._wire import decode_error, decode_token

D = TypeVar("D")

DEFAULT_API_BASE_URL = "https://api.dingtalk.com"
PATH_TOKEN = "/v1.0/oauth2/accessToken"
TOKEN_HEADER = "x-acs-dingtalk-access-token"

TOKEN_CODES = frozenset({"InvalidAuthentication", "InvalidAccessToken"})
CREDENTIAL_CODES = frozenset({"invalidClientIdOrSecret", "InvalidClientIdOrSecret"})
QPS_APP = "QpsLimitForAppkeyAndApi"
QPS_API = "QpsLimitForApi"
MONTHLY = "ApiCountLimitForOrg"
# The governor speaks oapi codes: the per-app limit pauses an API like 90018 (one second),
# the platform-wide one like 90002.
_GOVERNOR_CODES = {QPS_APP: 90018, QPS_API: 90002}

_token_body = msgspec.json.Encoder().encode


def _last(code: str | None) -> str:
    """``Forbidden.AccessDenied.QpsLimitForApi`` -> ``QpsLimitForApi``."""
    return (code or "").rsplit(".", 1)[-1]


def robot_error(
    response: ResponseLike, path: str, *secrets: Secret | None
) -> DingNotifyError:
    """The typed error for a non-2xx robot API answer (see the module docstring)."""
    status = response.status
    answer = decode_error(response.content)
    code, last = answer.code, _last(answer.code)
    message = scrub(answer.message or f"HTTP {status}", *secrets)
    cls: type[DingTalkError] = DingTalkError
    if last == MONTHLY:
        cls = QuotaExhaustedError
    elif last in (QPS_APP, QPS_API) or status == 429:
        cls = RateLimitedError
    elif code in CREDENTIAL_CODES:
        cls = CredentialsError
    elif code in TOKEN_CODES or status == 401:
        cls = TokenError
    elif not 400 <= status < 500:
        where = f"{path} answered HTTP {status}"
        if answer.request_id:
            where += f" request_id={answer.request_id}"
        return status_error_for(status, where, retry_after=retry_after(response))
    elif status == 404:
        cls = NotFoundError
    elif status == 403:
        cls = PermissionDeniedError
    elif status == 400:
        cls = InvalidArgumentError
    return cls(status, message, sub_code=code, request_id=answer.request_id, path=path)


def _checked(response: ResponseLike, path: str, *secrets: Secret | None) -> bytes:
    if 200 <= response.status < 300:
        return response.content
    raise robot_error(response, path, *secrets)


async def fetch_robot_token(
    http: HttpCore, base_url: str, app_key: str, app_secret: Secret, timeout: float
) -> tuple[Secret, float]:
    """One ``POST /v1.0/oauth2/accessToken``: the token and its lifetime in seconds."""
    request = Request(
        "POST", URL(base_url + PATH_TOKEN), headers=JSON_HEADERS,
        content=_token_body({"appKey": app_key, "appSecret": app_secret.reveal()}),
        timeout=timeout,
    )
    answer = decode_token(_checked(await http.exchange(request), PATH_TOKEN, app_secret))
    if not answer.access_token:
        raise ResponseDecodeError(f"{PATH_TOKEN}: response has no accessToken")
    return Secret(answer.access_token), float(answer.expire_in or 0)


class RobotCaller(ApiCaller):
    """Sends robot API requests with a valid token, within the quota, retrying per policy."""

    _headers_for: Secret | None = None
    _token_headers: tuple[CIMultiDictProxy[str], CIMultiDictProxy[str]]

    async def call(
        self,
        method: str,
        path: str,
        decode: Callable[[bytes], D],
        *,
        body: bytes | None = None,
        query: Mapping[str, str] | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_attempt: Callable[[], None] | None = None,
        on_retry: RetryHook | None = None,
    ) -> D:
        """One API call: ``decode`` of a 2xx answer's body, else a typed error."""

        async def attempt(attempt_timeout: float) -> D:
            return await self._attempt(method, path, decode, body, query, attempt_timeout,
                                       on_attempt)

        return await self.http.run(attempt, timeout=timeout, retry=retry, on_retry=on_retry)

    async def _attempt(
        self,
        method: str,
        path: str,
        decode: Callable[[bytes], D],
        body: bytes | None,
        query: Mapping[str, str] | None,
        timeout: float,
        on_attempt: Callable[[], None] | None,
    ) -> D:
        stale: Secret | None = None  # the token DingTalk rejected: it may echo it back
        while True:
            token = await self.tokens.get(timeout)  # first: see OapiCaller._attempt
            if self.governor is not None:
                await self.governor.acquire(path)
            url = self._url(path)
            request = Request(method, url.with_query(query) if query else url,
                              headers=self._headers(token, body is not None), content=body,
                              timeout=timeout)
            if on_attempt is not None:
                on_attempt()
            response = await self.http.exchange(request)
            if 200 <= response.status < 300:
                return decode(response.content)
            error = robot_error(response, path, token, stale, self._app_secret)
            if isinstance(error, TokenError) and stale is None:
                stale = token
                await self.tokens.invalidate(token)
                continue
            if isinstance(error, RateLimitedError) and self.governor is not None:
                self._penalize(path, error)
            raise error

    def _headers(self, token: Secret, json: bool) -> CIMultiDictProxy[str]:
        """The token header (and the JSON content type): built once per token, not per
        request, as ``OapiCaller`` keeps its signed URLs."""
        if token is not self._headers_for:
            self._headers_for = token
            self._token_headers = (
                frozen_headers({TOKEN_HEADER: token.reveal()}),
                frozen_headers({TOKEN_HEADER: token.reveal(), **JSON_HEADERS}),
            )
        return self._token_headers[json]

    def _penalize(self, path: str, error: RateLimitedError) -> None:
        assert self.governor is not None
        if isinstance(error, QuotaExhaustedError):
            return
        code = _GOVERNOR_CODES.get(_last(error.sub_code), 90018)
        self.governor.penalize(path, RateLimitedError(code, path=path))
