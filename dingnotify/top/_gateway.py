"""``TopClient``: signed calls to the Taobao Open Platform router.

System parameters travel in the query, business parameters in a form-encoded body, as the
official SDKs send them. Every attempt is signed afresh (new timestamp), through the same
transport, lifecycle and retry engine as ``DingTalkClient``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Unpack
from urllib.parse import urlencode

import aiohttp
import msgspec
from yarl import URL

from .._constants import DEFAULT_CLOSE_GRACE, DEFAULT_TIMEOUT, DEFAULT_TOP_URL, FORM_CONTENT_TYPE
from .._errors import ResponseDecodeError, ValidationError, top_error_for
from .._http import ClientLifecycle, HttpCore
from .._options import ConnectorOptions, PoolKeywords
from .._redact import Secret, scrub
from .._retry import RetryPolicy
from .._transport import AsyncTransport, Request, client_transport
from ._lyservice import LyService
from ._params import business_params
from ._signing import SIGN_METHODS, sign

GMT8 = timezone(timedelta(hours=8))
FORM_HEADERS = {"Content-Type": FORM_CONTENT_TYPE}
_METHOD = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")


def top_timestamp(epoch: float) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8, whatever the local time zone."""
    return datetime.fromtimestamp(epoch, GMT8).strftime("%Y-%m-%d %H:%M:%S")


_UNDECODABLE = object()


def _response_or_error(
    raw: bytes, method: str, *, simplify: bool, secrets: tuple[Secret | None, ...] = ()
) -> dict[str, Any] | Exception:
    """The ``<method>_response`` body, or the error to raise (a ``TopError`` for an
    ``error_response``): returned, so that no frame of its traceback holds the raw body."""
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        data = _UNDECODABLE
    if data is _UNDECODABLE:
        snippet = scrub(raw[:80].decode("utf-8", "replace"), *secrets)
        return ResponseDecodeError(f"{method}: undecodable response: {snippet!r}")
    if not isinstance(data, dict):
        return ResponseDecodeError(f"{method}: expected a JSON object")
    error = data.get("error_response")
    if isinstance(error, dict):
        try:
            code = int(error.get("code", 0))
        except (TypeError, ValueError):
            code = 0
        return top_error_for(
            code, scrub(str(error.get("msg", "")), *secrets),
            sub_code=None if error.get("sub_code") is None else str(error["sub_code"]),
            sub_msg=None if error.get("sub_msg") is None else scrub(str(error["sub_msg"]),
                                                                     *secrets),
            request_id=error.get("request_id"), method=method,
        )
    key = method.replace(".", "_") + "_response"
    inner = data.get(key)
    if isinstance(inner, dict):
        return inner
    if simplify:
        return data
    return ResponseDecodeError(f"{method}: response has no {key}")


def _parse_response(
    raw: bytes, method: str, *, simplify: bool, secrets: tuple[Secret | None, ...] = ()
) -> dict[str, Any]:
    """The ``<method>_response`` body, or a raised ``TopError`` for an ``error_response``."""
    outcome = _response_or_error(raw, method, simplify=simplify, secrets=secrets)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


class TopClient(ClientLifecycle):
    """Async client for the TOP gateway; ``async with TopClient(key, secret) as top``.

    ``execute`` calls any TOP method; ``lyservice.send_lippi_message`` wraps
    ``alibaba.lyservice.lippi.message.send``.
    Like ``DingTalkClient`` it takes ``transport=`` (e.g. ``dingnotify.testing.MockTransport``),
    ``session=`` or ``connector=ConnectorOptions(...)``; the former ``max_connections=`` and
    ``ssl=`` still work for one release, with a ``DeprecationWarning``.
    """

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        url: str = DEFAULT_TOP_URL,
        sign_method: str = "hmac-sha256",
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: AsyncTransport | None = None,
        session: aiohttp.ClientSession | None = None,
        connector: ConnectorOptions | None = None,
        simplify: bool = False,
        partner_id: str | None = None,
        session_key: str | None = None,
        close_grace: float = DEFAULT_CLOSE_GRACE,
        clock: Callable[[], float] = time.time,
        **deprecated: Unpack[PoolKeywords],
    ) -> None:
        if not isinstance(app_key, str) or not app_key:
            raise ValidationError("app_key must be a non-empty string")
        if not isinstance(app_secret, str) or not app_secret:
            raise ValidationError("app_secret must be a non-empty string")
        if sign_method not in SIGN_METHODS:
            raise ValidationError(f"sign_method must be one of {SIGN_METHODS}")
        wire = client_transport("TopClient", transport, session, connector, deprecated,
                                accepted=("max_connections", "ssl"))
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ValidationError("url must be an http(s) URL")
        self.app_key = app_key
        self.url = url
        self.sign_method = sign_method
        self.simplify = simplify
        self.partner_id = partner_id
        self._secret = Secret(app_secret)
        self._session_key = Secret(session_key) if session_key else None
        self._clock = clock
        self._http = HttpCore(wire, timeout=timeout,
                              retry=retry if retry is not None else RetryPolicy(),
                              close_grace=close_grace)
        self._url = URL(url)
        self.lyservice = LyService(self)

    def _system_params(self, method: str) -> dict[str, str]:
        params = {"method": method, "app_key": self.app_key,
                  "timestamp": top_timestamp(self._clock()), "v": "2.0", "format": "json",
                  "sign_method": self.sign_method}
        if self.simplify:
            params["simplify"] = "true"
        if self.partner_id:
            params["partner_id"] = self.partner_id
        if self._session_key is not None:
            params["session"] = self._session_key.reveal()
        return params

    async def execute(
        self,
        method: str,
        params: Mapping[str, object] | None = None,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> dict[str, Any]:
        """Call a TOP API; returns its response body (without the ``_response`` wrapper)."""
        if not isinstance(method, str) or not _METHOD.fullmatch(method):
            raise ValidationError(f"not a TOP method name: {method!r}")
        business = business_params(params)
        body = urlencode(business).encode()

        async def attempt(attempt_timeout: float) -> dict[str, Any]:
            outcome = _response_or_error(
                await self._http.send(self._request(method, business, body, attempt_timeout)),
                method, simplify=self.simplify, secrets=(self._secret, self._session_key))
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        return await self._http.run(attempt, timeout=timeout, retry=retry)

    def _request(
        self, method: str, business: Mapping[str, str], body: bytes, timeout: float
    ) -> Request:
        """A freshly signed request (new timestamp): the signature lives only in here."""
        system = self._system_params(method)
        system["sign"] = sign({**system, **business}, self._secret.reveal(), self.sign_method)
        return Request("POST", self._url.with_query(system), headers=FORM_HEADERS,
                       content=body, timeout=timeout)

    def __repr__(self) -> str:
        return (f"TopClient(app_key={self.app_key!r}, url={self.url!r}, "
                f"sign_method={self.sign_method!r})")
