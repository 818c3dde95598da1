"""IM PaaS: cross-domain message send."""

from __future__ import annotations

from .._api.oapi import OapiCaller
from .._api.oapi_wire import Envelope
from .._constants import PATH_CROSSDOMAIN
from .._coordination import Priority
from .._retry import RetryPolicy
from ._messages import CrossDomainMessage, encode_crossdomain


class Impaas:
    """``client.impaas``."""

    def __init__(self, api: OapiCaller) -> None:
        self._api = api

    async def send_crossdomain(
        self, message: CrossDomainMessage, *, timeout: float | None = None,
        retry: RetryPolicy | None = None, priority: Priority = "interactive",
    ) -> str | None:
        """Send a cross-domain IM message; returns DingTalk's ``request_id`` when given."""
        envelope = await self._api.send(
            "POST", PATH_CROSSDOMAIN, Envelope, body=encode_crossdomain(message), timeout=timeout,
            retry=retry, priority=priority,
        )
        return envelope.request_id
