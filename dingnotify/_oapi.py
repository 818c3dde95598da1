"""oapi calls: quota slot, token in the query, envelope checks, refresh-once on token errors.

``fetch_oapi_token`` is a plain function the ``TokenRefresher`` is built around; the
``OapiCaller`` receives that refresher ready-made. One call is one run of the retry engine;
each attempt takes a slot from the governor, a token, and sends one request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from yarl import URL

from ._caller import ApiCaller
from ._constants import JSON_CONTENT_TYPE, PATH_GETTOKEN
from ._errors import RateLimitedError, ResponseDecodeError, TokenError, error_for
from ._http import HttpCore
from ._redact import Secret, scrub
from ._retry import RetryHook, RetryPolicy
from ._transport import JSON_HEADERS, Request, frozen_headers
from ._wire import E, TokenResponse, decode


def answer_or_error(
    body: bytes, kind: type[E], path: str, *secrets: Secret | None
) -> E | Exception:
    """The decoded envelope of a zero ``errcode``, or the typed error to raise.

    DingTalk sometimes echoes request parameters in ``errmsg``: ``secrets`` are masked. The
    error is returned so that no frame of its traceback holds the raw body or envelope.
    """
    envelope = decode(body, kind, path, *secrets)
    if isinstance(envelope, Exception) or envelope.errcode == 0:
        return envelope
    return error_for(
        envelope.errcode,
        scrub(envelope.errmsg, *secrets),
        sub_code=envelope.sub_code,
        sub_msg=None if envelope.sub_msg is None else scrub(envelope.sub_msg, *secrets),
        request_id=envelope.request_id,
        path=path,
    )


async def fetch_oapi_token(
    http: HttpCore, base_url: str, app_key: str, app_secret: Secret, timeout: float
) -> tuple[Secret, float]:
    """One ``GET /gettoken``: the token and its lifetime in seconds (0 when not given)."""
    request = Request(
        "GET",
        URL(base_url + PATH_GETTOKEN).with_query(appkey=app_key, appsecret=app_secret.reveal()),
        timeout=timeout,
    )
    answer = answer_or_error(await http.send(request), TokenResponse, PATH_GETTOKEN, app_secret)
    if isinstance(answer, Exception):
        raise answer
    if not answer.access_token:
        raise ResponseDecodeError(f"{PATH_GETTOKEN}: response has no access_token")
    return Secret(answer.access_token), float(answer.expires_in or 0)


class OapiCaller(ApiCaller):
    """Sends oapi requests with a valid token, within the quota, retrying per policy."""

    _signed_for: Secret | None = None
    _signed: dict[str, URL]

    def _signed_url(self, path: str, token: Secret, query: Mapping[str, str] | None) -> URL:
        """The URL with ``access_token`` in its query. Without other parameters it is
        kept per path until the token changes: encoding a query on every request of a
        broadcast costs more than the rest of building it."""
        if query:
            return self._url(path).with_query({"access_token": token.reveal(), **query})
        if token is not self._signed_for:
            self._signed_for, self._signed = token, {}
        signed = self._signed.get(path)
        if signed is None:
            signed = self._signed[path] = self._url(path).with_query(
                access_token=token.reveal())
        return signed

    async def call(
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
    ) -> E:
        """One API call: the decoded envelope of a zero ``errcode``, else a typed error.

        ``recipients`` is what the call draws from the per-minute recipients budget;
        ``on_attempt`` runs just before each request is written.
        """
        headers = (
            None if body is None or not content_type
            else JSON_HEADERS if content_type == JSON_CONTENT_TYPE
            else frozen_headers({"Content-Type": content_type})
        )

        async def attempt(attempt_timeout: float) -> E:
            return await self._attempt(method, path, kind, body, headers, query, recipients,
                                       attempt_timeout, on_attempt)

        return await self.http.run(attempt, timeout=timeout, retry=retry, on_retry=on_retry)

    async def _attempt(
        self,
        method: str,
        path: str,
        kind: type[E],
        body: bytes | None,
        headers: Mapping[str, str] | None,
        query: Mapping[str, str] | None,
        recipients: int,
        timeout: float,
        on_attempt: Callable[[], None] | None,
    ) -> E:
        refreshed = False
        while True:
            # The token first: a slot's call must reach DingTalk within the window's
            # margin, not after a token fetch (in another process, with a shared store).
            token = await self.tokens.get(timeout)
            if self.governor is not None:
                await self.governor.acquire(path, recipients)
            request = Request(method, self._signed_url(path, token, query), headers=headers,
                              content=body, timeout=timeout)
            if on_attempt is not None:
                on_attempt()
            answer = answer_or_error(await self.http.send(request), kind, path, token,
                                     self._app_secret)
            if isinstance(answer, TokenError) and not refreshed:
                refreshed = True
                await self.tokens.invalidate(token)
                continue
            if isinstance(answer, RateLimitedError) and self.governor is not None:
                self.governor.penalize(path, answer)
            if isinstance(answer, Exception):
                raise answer
            return answer
