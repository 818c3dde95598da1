"""A scripted webhook endpoint on a real socket: only for what the default aiohttp transport
itself must show (redirects not followed, refused connections, an injected session)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "tokTOKEN0123456789abcdefSECRETTOKEN"
SECRET = "SECsecret0123456789abcdefGHIJKLMNOP"


@dataclass
class Seen:
    query: dict[str, str]
    raw_query: str
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeWebhook:
    """Answers each request with the next scripted ``(status, payload, headers)``."""

    host: str = "127.0.0.1"
    script: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def answer(self, status: int = 200, payload: Any = None, **headers: str) -> None:
        self.script.append((status, {"errcode": 0, "errmsg": "ok"} if payload is None
                            else payload, headers))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(dict(request.query), request.query_string, await request.read()))
        status, payload, headers = self.script.pop(0) if self.script else \
            (200, {"errcode": 0, "errmsg": "ok"}, {})
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return web.Response(status=status, body=body, headers=headers,
                            content_type="application/json")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/robot/send?access_token={TOKEN}"


@asynccontextmanager
async def fake_webhook(host: str = "127.0.0.1") -> AsyncIterator[FakeWebhook]:
    fake = FakeWebhook(host)
    app = web.Application()
    app.router.add_route("*", "/robot/send", fake._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    fake.port = runner.addresses[0][1]
    try:
        yield fake
    finally:
        await runner.cleanup()


class FakeTime:
    """A monotonic clock whose ``sleep`` advances it instantly (and yields once)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        import asyncio

        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
