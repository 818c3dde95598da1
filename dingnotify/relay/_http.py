"""The relay's HTTP surface: bearer auth, body limits, and answers Alertmanager can act on.

2xx only after the durable commit; 503 with ``Retry-After`` when the queue cannot take more
(Alertmanager retries); 400 only for what can never succeed; 401 without the right token.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._alertmanager import DEDUP_SECONDS, check_payload, dedup_key, items_for
from ._bell import Bell
from ._config import RelayConfig, Token
from ._messages import RequestError
from ._metrics import Metrics
from ._notify import ForbiddenError, parse_notify
from ._queue import Item, Queue, QueueError, QueueFullError
from ._template import TemplateError

log = logging.getLogger("dingnotify.relay")
RETRY_AFTER = "30"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _answer(status: int, body: dict[str, Any], **headers: str) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")) + "\n",
                        content_type="application/json", headers=headers)


def _error(status: int, message: str, **headers: str) -> web.Response:
    return _answer(status, {"error": message.splitlines()[0] if message else ""}, **headers)


class RelayApp:
    """The aiohttp application over one queue; ``wake`` is set after every accept."""

    def __init__(self, config: RelayConfig, queue: Queue, metrics: Metrics,
                 wake: Bell) -> None:
        self.config, self.queue, self.metrics, self.wake = config, queue, metrics, wake
        self._tokens = [t.value.encode() for t in config.tokens]

    def build(self) -> web.Application:
        app = web.Application(client_max_size=self.config.body_limit,
                              middlewares=[self._auth])
        app.router.add_post("/alertmanager", self.alertmanager)
        app.router.add_post("/notify", self.notify)
        app.router.add_get("/notifications/{id}", self.status)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        return app

    def _token(self, header: str) -> Token | None:
        scheme, _, given = header.partition(" ")
        found = None
        for token, raw in zip(self.config.tokens, self._tokens, strict=True):
            # Every token compared in constant time, none skipped: no timing oracle.
            if hmac.compare_digest(raw, given.strip().encode()) and scheme.lower() == "bearer":
                found = token
        return found

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        token = self._token(request.headers.get("Authorization", ""))
        if token is None:
            self.metrics.add("rejected")
            return _error(401, "missing or wrong bearer token",
                          **{"WWW-Authenticate": 'Bearer realm="dingnotify"'})
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            self.metrics.add("rejected")
            return _error(413, f"the body is over {self.config.body_limit} bytes")

    async def _json(self, request: web.Request) -> Any:
        length = request.content_length
        if length is not None and length > self.config.body_limit:
            raise web.HTTPRequestEntityTooLarge(max_size=self.config.body_limit,
                                                actual_size=length)
        raw = await request.read()
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(f"malformed JSON: {exc}") from None

    async def _accept(self, items: list[Item], key: str | None,
                      ttl: float) -> list[str] | web.Response:
        try:
            ids, new = await self.queue.add(items, key=key, ttl=ttl)
        except QueueFullError as exc:
            self.metrics.add("rejected")
            return _error(503, f"queue full: {exc}", **{"Retry-After": RETRY_AFTER})
        except QueueError as exc:
            log.error("relay queue: %s", exc)
            return _error(503, "the queue cannot commit", **{"Retry-After": RETRY_AFTER})
        if new:
            self.metrics.add("accepted", len(ids))
            self.wake.set()
        return ids

    async def alertmanager(self, request: web.Request) -> web.Response:
        try:
            payload = check_payload(await self._json(request))
        except RequestError as exc:
            self.metrics.add("rejected")
            return _error(400, str(exc))
        items = items_for(self.config, payload)
        if not items:
            self.metrics.add("unrouted_alerts", len(payload["alerts"]))
            log.warning("alertmanager group %r matched no route",
                        str(payload.get("groupKey", ""))[:200])
            return _answer(200, {"ids": []})
        ids = await self._accept(items, dedup_key(payload), DEDUP_SECONDS)
        return ids if isinstance(ids, web.Response) else _answer(200, {"ids": ids})

    async def notify(self, request: web.Request) -> web.Response:
        try:
            token = self._token(request.headers.get("Authorization", ""))
            assert token is not None  # the middleware let the request through
            item, key = parse_notify(self.config, await self._json(request), token)
        except (RequestError, TemplateError) as exc:
            self.metrics.add("rejected")
            return _error(400, str(exc))
        except ForbiddenError as exc:
            self.metrics.add("rejected")
            return _error(403, str(exc))
        ids = await self._accept([item], key, 86_400)
        return ids if isinstance(ids, web.Response) else _answer(202, {"id": ids[0]})

    async def status(self, request: web.Request) -> web.Response:
        view = await self.queue.get(request.match_info["id"])
        return _error(404, "no such notification") if view is None else _answer(200, view)

    async def healthz(self, request: web.Request) -> web.Response:
        return _answer(200, {"status": "ok", "queue_depth": self.queue.depth})

    async def metrics_page(self, request: web.Request) -> web.Response:
        text = self.metrics.render(self.queue.depth, await self.queue.oldest_age())
        return web.Response(text=text, content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})
