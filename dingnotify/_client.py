"""``DingTalkClient``: wires one transport, one token refresher, one governor and the API
resources."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from functools import partial
from typing import Any, Unpack

import aiohttp
import msgspec

from ._api.oapi import OapiCaller, OapiFamily, fetch_oapi_token
from ._api.oapi_wire import DictAnswer
from ._api.v1 import DEFAULT_API_BASE_URL, V1Caller, V1Family, fetch_v1_token
from ._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_CLOSE_GRACE,
    DEFAULT_TIMEOUT,
    FLOW_CONTROL_CODES,
    TOKEN_REFRESH_MARGIN,
)
from ._coordination import Coordination, Priority, QuotaGovernor
from ._errors import ValidationError
from ._http import ClientLifecycle, HttpCore
from ._options import ConnectorKeywords, ConnectorOptions
from ._quota import Governor, Quota
from ._redact import Secret
from ._retry import RetryPolicy
from ._token import Clock, FetchToken, TokenRefresher, TokenStore
from ._transport import AsyncTransport, client_transport
from .impaas import Impaas
from .media import Media
from .robot import Robot
from .users import Users
from .work_notice import WorkNotice

_DEFAULT_QUOTA = Quota.standard()


def _check_url(name: str, url: str) -> str:
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ValidationError(f"{name} must be an http(s) URL")
    return url.rstrip("/")


def _check_arguments(
    app_key: str, app_secret: str, agent_id: int | None, quota: Quota | Governor | None,
    token_store: TokenStore | None, coordination: Coordination | None,
) -> None:
    if not isinstance(app_key, str) or not app_key:
        raise ValidationError("app_key must be a non-empty string")
    if not isinstance(app_secret, str) or not app_secret:
        raise ValidationError("app_secret must be a non-empty string")
    if agent_id is not None and (isinstance(agent_id, bool) or not isinstance(agent_id, int)):
        raise ValidationError("agent_id must be an int")
    if quota is not None and not isinstance(quota, Quota | Governor):
        raise ValidationError("quota must be a Quota, a Governor or None")
    if coordination is not None and token_store is not None:
        raise ValidationError("give coordination= or token_store=, not both")
    if coordination is not None and isinstance(quota, Governor):
        raise ValidationError("with coordination=, give quota= a Quota: it builds the "
                              "shared governor")


class DingTalkClient(ClientLifecycle):
    """Async client for DingTalk's server API; share one per process (and event loop).

    ``async with DingTalkClient(app_key, app_secret, agent_id=...) as client: ...``
    The client owns a pooled ``aiohttp`` session unless you pass ``session=`` (used and
    left open) or a ``transport=`` of your own (``dingnotify.testing.MockTransport`` in
    unit tests); ``connector=ConnectorOptions(...)`` shapes the pool it creates (size,
    keep-alive, DNS cache, TLS). Every call draws from one quota governor (``quota=None``
    turns client-side limits off, for tests; a ``Governor`` of your own is shared by every
    client you give it to); ``timeout`` is per request, ``retry`` the default policy.
    ``client.robot`` speaks the new-generation API at ``api_base_url`` with a token of its
    own, for the enterprise robot ``robot_code`` (or one given per call). ``coordination=``
    (``dingnotify.redis.RedisCoordination``) shares both tokens and the quota windows with
    every other process of the app; the client uses it and leaves it open.
    The former keywords ``max_connections=``, ``keepalive_timeout=``, ``dns_cache_ttl=`` and
    ``ssl=`` still work for one release, with a ``DeprecationWarning``.
    """

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        agent_id: int | None = None,
        robot_code: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        api_base_url: str = DEFAULT_API_BASE_URL,
        quota: Quota | Governor | None = _DEFAULT_QUOTA,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: AsyncTransport | None = None,
        session: aiohttp.ClientSession | None = None,
        connector: ConnectorOptions | None = None,
        token_store: TokenStore | None = None,
        coordination: Coordination | None = None,
        token_refresh_margin: float = TOKEN_REFRESH_MARGIN,
        flow_control_codes: Collection[str] = FLOW_CONTROL_CODES,
        close_grace: float = DEFAULT_CLOSE_GRACE,
        clock: Clock = time.monotonic,
        **deprecated: Unpack[ConnectorKeywords],
    ) -> None:
        _check_arguments(app_key, app_secret, agent_id, quota, token_store, coordination)
        wire = client_transport("DingTalkClient", transport, session, connector, deprecated)
        self.app_key = app_key
        self.agent_id = agent_id
        self.base_url = _check_url("base_url", base_url)
        self.api_base_url = _check_url("api_base_url", api_base_url)
        governor: QuotaGovernor | None = quota if isinstance(quota, Governor) else None
        if isinstance(quota, Quota):
            governor = (Governor(quota) if coordination is None
                        else coordination.governor(app_key, quota))
        self.quota = None if governor is None else governor.quota
        secret = Secret(app_secret)
        self._http = HttpCore(wire, timeout=timeout,
                              retry=retry if retry is not None else RetryPolicy(),
                              close_grace=close_grace)
        if coordination is not None:
            token_store = coordination.token_store()

        def tokens(key: str, fetch: FetchToken) -> TokenRefresher:
            lock = None if coordination is None else coordination.token_lock(key)
            return TokenRefresher(fetch, key=key, store=token_store, lock=lock,
                                  margin=token_refresh_margin, clock=clock)

        oapi, v1 = OapiFamily(self.base_url), V1Family(self.api_base_url)
        self._tokens = tokens(f"dingtalk:{app_key}",
                              partial(fetch_oapi_token, self._http, oapi, app_key, secret))
        self._api = OapiCaller(self._http, oapi, tokens=self._tokens, governor=governor,
                               secrets=(secret,))
        v1_caller = V1Caller(self._http, v1, governor=governor, secrets=(secret,),
                             tokens=tokens(f"dingtalk-api:{app_key}",
                                           partial(fetch_v1_token, self._http, v1, app_key,
                                                   secret)))
        # One line per channel.
        self.users = Users(self._api)
        self.work_notice = WorkNotice(self._api, agent_id, flow_control_codes)
        self.media = Media(self._api)
        self.impaas = Impaas(self._api)
        self.robot = Robot(v1_caller, robot_code)

    @property
    def governor(self) -> QuotaGovernor | None:
        """The governor every call of this client takes its slot from (``None`` without a
        quota): to seed it, e.g. with a resumed journal's recent acknowledgements."""
        return self._api.governor

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy of every call."""
        return self._http.retry

    @property
    def token_refreshes(self) -> int:
        """How many times this client fetched a token (``/gettoken`` calls that succeeded)."""
        return self._tokens.refreshes

    async def get_access_token(self) -> str:
        """A currently valid access token (for calling APIs this SDK does not wrap)."""
        async with self._http.call():
            return (await self._tokens.get(self._http.timeout)).reveal()

    async def call(
        self,
        path: str,
        *,
        json: Any = None,
        method: str | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> dict[str, Any]:
        """Call any oapi endpoint with this client's token, quota, retries and redaction.

        ``json`` is sent as the body (``POST`` unless ``method`` says otherwise); the
        decoded answer comes back as a dict once its ``errcode`` is 0, else the typed error
        is raised. ``access_token`` is added to the query for you. ``priority``: who waits
        for the answer (``"bulk"`` for a script's loop, leaving the reserve to people).
        """
        if not isinstance(path, str) or not path.startswith("/") or "?" in path:
            raise ValidationError("path must start with '/' and carry no query: use params=")
        verb = method or ("GET" if json is None else "POST")
        if verb not in ("GET", "POST"):
            raise ValidationError("method must be GET or POST")
        if params is not None and "access_token" in params:
            raise ValidationError("access_token is added by the client")
        body = None if json is None else msgspec.json.encode(json)
        answer = await self._api.send(verb, path, DictAnswer, body=body, query=params,
                                      timeout=timeout, retry=retry, priority=priority)
        return answer.data

    def __repr__(self) -> str:
        return (
            f"DingTalkClient(app_key={self.app_key!r}, agent_id={self.agent_id!r}, "
            f"base_url={self.base_url!r})"
        )
