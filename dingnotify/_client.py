"""``DingTalkClient``: wires one transport, one token refresher and the API resources."""

from __future__ import annotations

import ssl as ssl_module
import time

import aiohttp

from ._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_DNS_CACHE_TTL,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
    TOKEN_REFRESH_MARGIN,
)
from ._errors import ValidationError
from ._oapi import OapiCaller
from ._redact import Secret
from ._retry import RetryPolicy
from ._token import Clock, TokenRefresher, TokenStore
from ._transport import Transport, TransportOwner
from .resources import Impaas, Media, Users, WorkNotice


class DingTalkClient(TransportOwner):
    """Async client for DingTalk's server API; share one per process.

    ``async with DingTalkClient(app_key, app_secret, agent_id=...) as client: ...``
    The client owns a pooled ``aiohttp`` session unless you pass ``session=`` (then it is
    used and left open). ``timeout`` is per request; ``retry`` applies to every call.
    """

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        agent_id: int | None = None,
        base_url: str = DEFAULT_BASE_URL,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT,
        dns_cache_ttl: int = DEFAULT_DNS_CACHE_TTL,
        ssl: bool | ssl_module.SSLContext = True,
        token_store: TokenStore | None = None,
        token_refresh_margin: float = TOKEN_REFRESH_MARGIN,
        clock: Clock = time.monotonic,
    ) -> None:
        if not isinstance(app_key, str) or not app_key:
            raise ValidationError("app_key must be a non-empty string")
        if not isinstance(app_secret, str) or not app_secret:
            raise ValidationError("app_secret must be a non-empty string")
        if agent_id is not None and (isinstance(agent_id, bool) or not isinstance(agent_id, int)):
            raise ValidationError("agent_id must be an int")
        self.app_key = app_key
        self.agent_id = agent_id
        self.base_url = base_url.rstrip("/")
        self._transport = Transport(
            session=session,
            timeout=timeout,
            max_connections=max_connections,
            keepalive_timeout=keepalive_timeout,
            dns_cache_ttl=dns_cache_ttl,
            ssl=ssl,
            retry=retry,
        )
        self._api = OapiCaller(self._transport, self.base_url, app_key, Secret(app_secret))
        self._tokens = TokenRefresher(
            self._api.fetch_token,
            key=f"dingtalk:{app_key}",
            store=token_store,
            margin=token_refresh_margin,
            clock=clock,
        )
        self._api.tokens = self._tokens
        self.users = Users(self._api)
        self.work_notice = WorkNotice(self._api, agent_id)
        self.media = Media(self._api)
        self.impaas = Impaas(self._api)

    @property
    def retry(self) -> RetryPolicy:
        return self._transport.retry

    @property
    def token_refreshes(self) -> int:
        """How many times this client fetched a token (``/gettoken`` calls that succeeded)."""
        return self._tokens.refreshes

    async def get_access_token(self) -> str:
        """A currently valid access token (for calling APIs this SDK does not wrap)."""
        return await self._tokens.get()

    def __repr__(self) -> str:
        return (
            f"DingTalkClient(app_key={self.app_key!r}, agent_id={self.agent_id!r}, "
            f"base_url={self.base_url!r})"
        )
