"""Shared constants and fixtures.

Unit tests answer the client's requests with ``dingnotify.testing.MockTransport`` and a
``Scripted`` handler; integration tests use the emulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

import dingnotify
from dingnotify.testing import MockRequest, MockResponse, MockTransport

BASE = "https://oapi.test"
APP_KEY = "unit-app-key"
APP_SECRET = "unit-app-secret-S3CR3T"
TOKEN = "tok0123456789abcdef0123456789abcd"

GETTOKEN = "/gettoken"
SEND = "/topapi/message/corpconversation/asyncsend_v2"
PROGRESS = "/topapi/message/corpconversation/getsendprogress"
RESULT = "/topapi/message/corpconversation/getsendresult"
RECALL = "/topapi/message/corpconversation/recall"
STATUS_BAR = "/topapi/message/corpconversation/status_bar/update"

FAST = dingnotify.RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01, jitter=False)

Reply = MockResponse | Awaitable[MockResponse]
Answer = MockResponse | BaseException | Callable[[MockRequest], Reply]


def ok(**fields: Any) -> MockResponse:
    """A success envelope with ``fields``."""
    return MockResponse(json={"errcode": 0, "errmsg": "ok", **fields})


def err(errcode: int, errmsg: str = "e", **fields: Any) -> MockResponse:
    """An error envelope."""
    return MockResponse(json={"errcode": errcode, "errmsg": errmsg, **fields})


def token_answer(token: str = TOKEN, expires_in: int = 7200) -> MockResponse:
    return ok(access_token=token, expires_in=expires_in)


class Scripted:
    """A MockTransport handler: each path answers from its own script, in order.

    The last answer of a script repeats. An answer is a ``MockResponse``, an exception to
    raise (``TimeoutError``, ``ConnectionError``: a network failure), or a function of the
    request. ``/gettoken`` answers ``TOKEN`` unless scripted otherwise. A request to an
    unscripted path fails the test.
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[Answer]] = {GETTOKEN: [token_answer()]}
        self.requests: list[MockRequest] = []

    def route(self, path: str, *answers: Answer) -> Scripted:
        """Script ``path``'s answers (replacing any earlier script)."""
        assert answers, "give at least one answer"
        self.routes[path] = list(answers)
        return self

    def __call__(self, request: MockRequest) -> Reply:
        self.requests.append(request)
        script = self.routes.get(request.url.path)
        if script is None:
            raise AssertionError(f"unscripted request: {request.method} {request.url.path}")
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, BaseException):
            raise answer.with_traceback(None)
        if isinstance(answer, MockResponse):
            return answer
        return answer(request)

    def sent(self, path: str | None = None) -> list[MockRequest]:
        """Every request seen, in order (only those to ``path`` if given)."""
        return [r for r in self.requests if path is None or r.url.path == path]

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def client_with(
    handler: Callable[[MockRequest], Any], **kw: Any
) -> dingnotify.DingTalkClient:
    """A client on ``MockTransport(handler)``: fast retries, no client-side quota."""
    options: dict[str, Any] = {"agent_id": 123, "base_url": BASE, "retry": FAST, "quota": None}
    options.update(kw)
    return dingnotify.DingTalkClient(APP_KEY, APP_SECRET, transport=MockTransport(handler),
                                     **options)


def tokens_of(requests: Iterable[MockRequest]) -> list[str]:
    """The ``access_token`` each request carried."""
    return [r.url.query["access_token"] for r in requests]


@pytest.fixture
def wire() -> Scripted:
    return Scripted()


@pytest.fixture
async def client(wire: Scripted) -> AsyncIterator[dingnotify.DingTalkClient]:
    async with client_with(wire) as c:
        yield c


@asynccontextmanager
async def local_server(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """A real HTTP server on 127.0.0.1 answering every path with ``handler``: for the few
    tests of the default aiohttp transport. Yields its base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
