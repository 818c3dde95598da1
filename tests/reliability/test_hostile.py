"""Hostile servers (issue 13, items 1-3): credentials never leave for another host, a token is
never pasted into a URL, and no error the client raises shows the app secret or a token, even
in a traceback formatted with every frame's locals and every chained exception.

"DingTalk" here is a tiny aiohttp app on 127.0.0.1; the attacker's host is a second one on
127.0.0.2 that records everything it receives.
"""

from __future__ import annotations

import asyncio
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import pytest
from aiohttp import web

from dingnotify import (
    ConnectionFailedError,
    CredentialsError,
    DingNotifyError,
    DingTalkClient,
    HTTPStatusError,
    InvalidArgumentError,
    RedirectError,
    RequestTimeoutError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    Text,
)

APP_KEY = "hostile-app-key"
APP_SECRET = "hostile-app-secret-Zq9XvB7Kp2"
TOKEN = "hostile-token-7f3e9a1c5b2d8e4f"
GETTOKEN = "/gettoken"
SEND = "/topapi/message/corpconversation/asyncsend_v2"
FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    """One request a server received, whole."""

    method: str
    path: str
    query: list[tuple[str, str]]
    raw_path: str
    body: bytes


@dataclass
class Server:
    url: str
    seen: list[Seen] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]


@asynccontextmanager
async def serve(host: str, routes: dict[str, Handler] | None = None) -> AsyncIterator[Server]:
    """A server on ``host`` recording every request; ``routes`` answer by path, every other
    path gets ``{"errcode": 0}`` (an attacker happily "accepts" anything)."""
    server = Server("")
    answers = routes or {}

    async def handle(request: web.Request) -> web.StreamResponse:
        server.seen.append(Seen(request.method, request.path, list(request.query.items()),
                                request.raw_path, await request.read()))
        answer = answers.get(request.path)
        if answer is None:
            return web.json_response({"errcode": 0, "errmsg": "ok", "task_id": 666,
                                      "access_token": "evil", "expires_in": 7200})
        return await answer(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    server.url = f"http://{host}:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


def client_at(url: str, **kw: object) -> DingTalkClient:
    options: dict[str, object] = {"agent_id": 1, "retry": FAST, "quota": None, "timeout": 2.0,
                                  **kw}
    return DingTalkClient(APP_KEY, APP_SECRET, base_url=url, **options)  # type: ignore[arg-type]


async def token_ok(request: web.Request) -> web.StreamResponse:
    return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": TOKEN,
                              "expires_in": 7200})


async def send_ok(request: web.Request) -> web.StreamResponse:
    return web.json_response({"errcode": 0, "errmsg": "ok", "task_id": 1001})


def redirect_to(evil: Server, status: int) -> Handler:
    async def answer(request: web.Request) -> web.StreamResponse:
        # The attacker keeps the whole path and query: a followed redirect would carry the
        # token (or the app secret) and, for a 307, the body too.
        return web.Response(status=status, headers={"Location": evil.url + request.path_qs})
    return answer


# -- 1. redirects ---------------------------------------------------------------------------

async def test_307_on_send_is_refused_and_nothing_reaches_the_other_host() -> None:
    """Before: the client re-posted to the other host with ``?access_token=<token>`` and
    returned its task_id (666) as success. After: ``RedirectError``, one request, evil sees
    nothing."""
    async with serve("127.0.0.2") as evil, \
            serve("127.0.0.1", {GETTOKEN: token_ok, SEND: redirect_to(evil, 307)}) as ding, \
            client_at(ding.url) as client:
        with anyio.fail_after(5), pytest.raises(RedirectError) as caught:
            await client.work_notice.send(Text(content="hi"), userids=["u1"])
    assert isinstance(caught.value, HTTPStatusError) and caught.value.status == 307
    assert not caught.value.retryable
    assert ding.paths() == [GETTOKEN, SEND]  # exactly one send: a 3xx is not retried
    assert evil.seen == []


async def test_302_on_gettoken_is_refused_and_the_secret_stays_home() -> None:
    """Before: a 302 on ``/gettoken`` delivered ``appsecret=<secret>`` to the other host.
    After: ``RedirectError`` after one request; evil sees nothing."""
    async with serve("127.0.0.2") as evil, \
            serve("127.0.0.1", {GETTOKEN: redirect_to(evil, 302)}) as ding, \
            client_at(ding.url) as client:
        with anyio.fail_after(5), pytest.raises(RedirectError) as caught:
            await client.work_notice.send(Text(content="hi"), userids=["u1"])
    assert caught.value.status == 302
    assert ding.paths() == [GETTOKEN]
    assert evil.seen == []
    assert APP_SECRET not in str(caught.value)


# -- 2. a token that looks like more query ---------------------------------------------------

async def test_token_with_query_syntax_stays_one_parameter() -> None:
    """Before: a token ``...&agent_id=666#x`` was pasted into the URL: the server saw
    ``agent_id=666`` and a truncated token. After: one ``access_token`` equal to the whole
    token, no ``agent_id``."""
    nasty = TOKEN + "&agent_id=666#x"

    async def token(request: web.Request) -> web.StreamResponse:
        return web.json_response({"errcode": 0, "access_token": nasty, "expires_in": 7200})

    async with serve("127.0.0.1", {GETTOKEN: token, SEND: send_ok}) as ding, \
            client_at(ding.url) as client:
        with anyio.fail_after(5):
            assert await client.work_notice.send(Text(content="x"), userids=["u1"]) == 1001
    [send] = [s for s in ding.seen if s.path == SEND]
    assert [v for k, v in send.query if k == "access_token"] == [nasty]
    assert "agent_id" not in {k for k, _ in send.query}
    assert "#" not in send.raw_path and "%26agent_id%3D666%23x" in send.raw_path
    [get] = [s for s in ding.seen if s.path == GETTOKEN]
    assert dict(get.query) == {"appkey": APP_KEY, "appsecret": APP_SECRET}


# -- 3. no credential in any error, its chain or its frames' locals --------------------------

async def failure(call: Callable[[], Awaitable[object]]) -> DingNotifyError:
    """Run ``call`` and return its error. This frame holds no credential, so a traceback with
    locals shows only what the client's own frames hold."""
    with anyio.fail_after(5):
        try:
            await call()
        except DingNotifyError as exc:
            return exc
    raise AssertionError("the call succeeded")


def shown(exc: BaseException) -> str:
    """Everything a Sentry-style tool or ``pytest -l`` could show: the full traceback with
    every frame's locals, chained exceptions included, plus each link's str and repr."""
    text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True)
                   .format())
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in seen:
        seen.append(link)
        text += f"\n{link!s}\n{link!r}"
        link = link.__cause__ or link.__context__
    return text


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def sleepy(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(3)
    return web.json_response({"errcode": 0})


async def status_503(request: web.Request) -> web.StreamResponse:
    return web.Response(status=503, text=f"503 for {request.path_qs}")


async def garbage(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b'{"errcode": 0, "access_token": "' + TOKEN.encode()[:9],
                        content_type="application/json")


async def garbage_echo(request: web.Request) -> web.StreamResponse:
    """Not JSON, and it quotes the secret and the token bare (no ``key=`` before them)."""
    return web.Response(text=f"bad app {APP_SECRET} / {TOKEN}", content_type="text/plain")


async def gettoken_echo(request: web.Request) -> web.StreamResponse:
    return web.json_response({"errcode": 40089,
                              "errmsg": f"invalid appkey {APP_KEY} appsecret {APP_SECRET}"})


async def send_echo(request: web.Request) -> web.StreamResponse:
    return web.json_response({"errcode": 40035, "sub_code": "40035",
                              "errmsg": f"bad token {TOKEN} for secret {APP_SECRET}",
                              "sub_msg": f"access_token:{TOKEN}"})


async def drop(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.abort()
    return web.Response(status=499)


LOCALS_LEAK = pytest.mark.xfail(
    strict=True,
    reason="core bug: the decoded envelope (a frame local in _oapi.raise_for_errcode, "
    "fetch_oapi_token and OapiCaller._attempt) shows the unmasked errmsg in a traceback "
    "with capture_locals=True")
BODY_LEAK = pytest.mark.xfail(
    strict=True,
    reason="core bug: _wire.decode quotes the first 80 bytes of an undecodable body, masked "
    "only for key=value / JSON keys: a bare echoed secret or token is shown (message and "
    "the `body` local)")

SCENARIOS = [
    pytest.param("gettoken-refused", None, None, ConnectionFailedError, id="gettoken-refused"),
    pytest.param("gettoken-503", status_503, None, ServerError, id="gettoken-503"),
    pytest.param("gettoken-garbage", garbage, None, ResponseDecodeError, id="gettoken-garbage"),
    pytest.param("gettoken-garbage-echo", garbage_echo, None, ResponseDecodeError,
                 id="gettoken-garbage-echo", marks=BODY_LEAK),
    pytest.param("gettoken-timeout", sleepy, None, RequestTimeoutError, id="gettoken-timeout"),
    pytest.param("gettoken-echo", gettoken_echo, None, CredentialsError, id="gettoken-echo",
                 marks=LOCALS_LEAK),
    pytest.param("send-echo", token_ok, send_echo, InvalidArgumentError, id="send-echo",
                 marks=LOCALS_LEAK),
    pytest.param("send-503", token_ok, status_503, ServerError, id="send-503"),
    pytest.param("send-timeout", token_ok, sleepy, RequestTimeoutError, id="send-timeout"),
    pytest.param("send-drop", token_ok, drop, ConnectionFailedError, id="send-drop"),
    pytest.param("send-garbage-echo", token_ok, garbage_echo, ResponseDecodeError,
                 id="send-garbage-echo", marks=BODY_LEAK),
]


@pytest.mark.parametrize(("name", "gettoken", "send", "expected"), SCENARIOS)
async def test_no_secret_or_token_in_any_error_with_locals(
    name: str, gettoken: Handler | None, send: Handler | None,
    expected: type[DingNotifyError],
) -> None:
    """Before: ``__context__`` held aiohttp's error with ``appsecret=<secret>`` in its text,
    an echoed ``errmsg`` was shown verbatim, and ``url``/``query``/``token`` frame locals
    held the credentials. After: none of it, in any form the traceback machinery shows."""
    routes = {GETTOKEN: gettoken} if gettoken is not None else {}
    if send is not None:
        routes[SEND] = send
    async with serve("127.0.0.1", routes) as ding:
        url = ding.url if gettoken is not None else f"http://127.0.0.1:{closed_port()}"
        async with client_at(url, timeout=0.3) as client:
            error = await failure(lambda: client.work_notice.send(Text(content=name),
                                                                  userids=["u1"]))
    assert isinstance(error, expected), repr(error)
    text = shown(error)
    assert "Traceback" in text and "call = <function" in text  # the locals really were captured
    assert APP_SECRET not in text
    assert TOKEN not in text
    assert TOKEN[:16] not in text  # not even a prefix of it
