"""The emulator's shared state and the request steps every handler repeats.

Handlers stay thin: authenticate the token, apply the rate limit, parse the JSON body, then
do one job. Errors travel as ``WireError`` and are rendered here in the envelope the path
calls for (plain on classic paths; ``request_id`` and optional 88-wrapping on ``/topapi``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
from aiohttp import web

from ._clock import Clock
from ._delivery import Delivery
from ._ipban import IpGuard
from ._org import App, Org
from ._quota import MONTHLY_EXEMPT, MonthlyQuota
from ._ratelimit import PER_SECOND, RateLimiter, RateLimits
from ._state import DEFAULT_MEDIA_LIMITS, MediaStore, TokenStore
from ._wire import (
    MSG_TOKEN,
    RequestIds,
    WireError,
    decode,
    json_response,
    plain_error,
    wrapped_error,
)

TOKEN_ERROR = 40014
NO_PERMISSION = 60011
BODY_NOT_JSON = 43009
QPS_LIMITED = 90018
MINUTE_LIMITED = 90006
MONTHLY_LIMITED = 90020

ErrorStyle = Literal["wrapped", "plain"]


@dataclass(frozen=True, slots=True)
class CrossdomainMessage:
    app_key: str
    model: dict[str, Any]
    received_at: float


@dataclass(frozen=True, slots=True)
class TopMessage:
    app_key: str
    method: str
    para: dict[str, Any]
    message: dict[str, Any]
    success: bool
    data: str
    received_at: float


@dataclass
class Core:
    """Everything handlers read or change; the ``Emulator`` exposes parts of it."""

    org: Org
    clock: Clock
    tokens: TokenStore
    media: MediaStore
    delivery: Delivery
    limiter: RateLimiter
    monthly: MonthlyQuota
    ip_guard: IpGuard
    request_ids: RequestIds
    lean: bool = False
    error_style: ErrorStyle = "wrapped"
    result_lists_as_strings: bool = False
    top_business_failure: bool = False
    media_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MEDIA_LIMITS))
    throttled: Counter[int] = field(default_factory=Counter)
    crossdomain_messages: list[CrossdomainMessage] = field(default_factory=list)
    top_messages: list[TopMessage] = field(default_factory=list)

    def authorize(self, request: web.Request) -> App:
        app = self.tokens.app_for(request.query.get("access_token"))
        if app is None:
            raise WireError(TOKEN_ERROR, MSG_TOKEN, wrap=True)
        return app

    @property
    def limits(self) -> RateLimits:
        return self.limiter.limits

    def throttle(self, app_key: str, path: str) -> None:
        """Monthly quota, then the per-second and per-minute windows of ``path``.

        90020 is answered plainly, like 90018/90006 (no 88 wrapper on ``/topapi``): these
        are the app's budget, not its token or permissions.
        """
        counted = path not in MONTHLY_EXEMPT
        if counted and not self.monthly.allows(app_key):
            self.throttled[MONTHLY_LIMITED] += 1
            raise WireError(MONTHLY_LIMITED, f"当前企业的接口调用量已超过每月限额"
                            f"({self.monthly.limit}次/月)，请下月再试")
        verdict = self.limiter.check((app_key, path))
        if verdict is None:
            if counted:
                self.monthly.consume(app_key)
            return
        if verdict == PER_SECOND:
            qps = self.limiter.limits.qps
            self.throttled[QPS_LIMITED] += 1
            raise WireError(QPS_LIMITED, f"应用调用该接口的频率超过限制({qps:g}次/秒)，请降低频率")
        per_minute = self.limiter.limits.per_minute
        self.throttled[MINUTE_LIMITED] += 1
        raise WireError(MINUTE_LIMITED, f"应用调用该接口的次数超过限制({per_minute}次/分钟)")

    def check_agent(self, app: App, agent_id: int) -> None:
        if agent_id != app.agent_id:
            raise WireError(NO_PERMISSION, f"没有调用该接口的权限: agent_id {agent_id} "
                            f"does not belong to this access_token's app", wrap=True)

    def render(self, error: WireError, request_id: str | None) -> dict[str, Any]:
        if request_id is not None and error.wrap and self.error_style == "wrapped":
            return wrapped_error(str(error.errcode), error.errmsg, request_id)
        return plain_error(error.errcode, error.errmsg, request_id)


async def read_json_body(request: web.Request) -> dict[str, Any]:
    """The POST body as a JSON object, else DingTalk's 43009."""
    raw = await request.read()
    try:
        body = decode(raw) if raw else None
    except msgspec.DecodeError:
        body = None
    if not isinstance(body, dict):
        raise WireError(BODY_NOT_JSON, "post参数需要json类型")
    return body


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TopapiFn = Callable[[App, dict[str, Any]], dict[str, Any]]


def topapi_endpoint(core: Core, fn: TopapiFn) -> Handler:
    """Token -> rate limit -> JSON body -> ``fn``; every answer carries a ``request_id``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        request_id = core.request_ids.next()
        try:
            app = core.authorize(request)
            core.throttle(app.app_key, request.path)
            payload = fn(app, await read_json_body(request))
        except WireError as error:
            payload = core.render(error, request_id)
        payload["request_id"] = request_id
        return json_response(payload)

    return handle
