"""``TopClient``: signed calls to the Taobao Open Platform router.

System parameters travel in the query, business parameters in a form-encoded body, as the
official SDKs send them. Every attempt is signed afresh (new timestamp), through the same
transport, lifecycle and retry engine as ``DingTalkClient``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Unpack
from urllib.parse import urlencode

import aiohttp

from .._api import Call, Caller
from .._api.top import TopFamily, top_timestamp
from .._api.top_signing import SIGN_METHODS
from .._constants import DEFAULT_CLOSE_GRACE, DEFAULT_TIMEOUT, DEFAULT_TOP_URL
from .._coordination import Priority
from .._errors import ValidationError
from .._http import ClientLifecycle, HttpCore
from .._options import ConnectorOptions, PoolKeywords
from .._redact import Secret
from .._retry import RetryPolicy
from .._transport import AsyncTransport, client_transport
from ._lyservice import LyService
from ._params import business_params

__all__ = ["TopClient", "top_timestamp"]

_METHOD = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")


def _as_dict(value: dict[str, Any]) -> dict[str, Any]:
    return value


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
        self._api = Caller(
            self._http,
            TopFamily(url, app_key, self._secret, sign_method=sign_method, simplify=simplify,
                      partner_id=partner_id, session=self._session_key, clock=clock),
            secrets=(self._secret, self._session_key),
        )
        self.lyservice = LyService(self)

    async def execute(
        self,
        method: str,
        params: Mapping[str, object] | None = None,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> dict[str, Any]:
        """Call a TOP API; returns its response body (without the ``_response`` wrapper)."""
        if not isinstance(method, str) or not _METHOD.fullmatch(method):
            raise ValidationError(f"not a TOP method name: {method!r}")
        business = business_params(params)
        call = Call("POST", method, _as_dict, body=urlencode(business).encode(), query=business,
                    priority=priority)
        return await self._api.call(call, timeout=timeout, retry=retry)

    def __repr__(self) -> str:
        return (f"TopClient(app_key={self.app_key!r}, url={self.url!r}, "
                f"sign_method={self.sign_method!r})")
