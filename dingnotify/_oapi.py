"""oapi calls: token in the query, envelope checks, refresh-once on token errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from ._constants import JSON_CONTENT_TYPE, PATH_GETTOKEN
from ._errors import ResponseDecodeError, TokenError, error_for
from ._redact import Secret
from ._retry import RetryPolicy
from ._token import TokenRefresher
from ._transport import RetryHook, Transport
from ._wire import E, Envelope, TokenResponse, decode

JSON_HEADERS = {"Content-Type": JSON_CONTENT_TYPE}
Body = bytes | Callable[[], Any] | None


def raise_for_errcode(envelope: Envelope, path: str) -> None:
    """Turn a non-zero ``errcode`` into the matching ``DingTalkError``."""
    if envelope.errcode != 0:
        raise error_for(
            envelope.errcode,
            envelope.errmsg,
            sub_code=envelope.sub_code,
            sub_msg=envelope.sub_msg,
            request_id=envelope.request_id,
            path=path,
        )


class OapiCaller:
    """Sends one oapi request with a valid token, retrying per policy."""

    def __init__(
        self, transport: Transport, base_url: str, app_key: str, app_secret: Secret
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self._app_key = app_key
        self._app_secret = app_secret
        self.tokens: TokenRefresher | None = None

    async def fetch_token(self) -> tuple[str, float]:
        """``GET /gettoken``; the URL carries the secret, so it is only ever logged redacted."""
        query = urlencode({"appkey": self._app_key, "appsecret": self._app_secret.reveal()})
        url = f"{self.base_url}{PATH_GETTOKEN}?{query}"

        async def attempt(timeout: float | None) -> TokenResponse:
            raw = await self.transport.request("GET", url, timeout=timeout)
            envelope = decode(raw, TokenResponse, PATH_GETTOKEN)
            raise_for_errcode(envelope, PATH_GETTOKEN)
            return envelope

        envelope = await self.transport.retrying(attempt)
        if not envelope.access_token:
            raise ResponseDecodeError(f"{PATH_GETTOKEN}: response has no access_token")
        return envelope.access_token, float(envelope.expires_in or 0)

    async def call(
        self,
        method: str,
        path: str,
        kind: type[E],
        *,
        body: Body = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = JSON_HEADERS,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_retry: RetryHook | None = None,
    ) -> E:
        """One API call: returns the decoded envelope of a zero ``errcode``, else raises."""
        assert self.tokens is not None
        tokens = self.tokens
        suffix = "" if not query else "&" + urlencode(query, quote_via=quote)
        prefix = f"{self.base_url}{path}?access_token="
        refreshed = False

        async def attempt(attempt_timeout: float | None) -> E:
            nonlocal refreshed
            while True:
                token = await tokens.get()
                data = body() if callable(body) else body
                raw = await self.transport.request(
                    method,
                    prefix + token + suffix,
                    data=data,
                    headers=headers if data is not None else None,
                    timeout=attempt_timeout,
                )
                envelope = decode(raw, kind, path)
                try:
                    raise_for_errcode(envelope, path)
                except TokenError:
                    if refreshed:
                        raise
                    refreshed = True
                    await tokens.invalidate(token)
                    continue
                return envelope

        return await self.transport.retrying(
            attempt, retry=retry, on_retry=on_retry, timeout=timeout
        )
