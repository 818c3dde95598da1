"""``MockTransport``: answer the client's requests with a function, for unit tests.

    def handler(request):        # request.method, .url (yarl.URL), .headers, .json, .content
        return MockResponse(json={"errcode": 0, "task_id": 1})

    async with DingTalkClient(key, secret, agent_id=1, transport=MockTransport(handler)) as c:
        ...

The handler may be sync or async, and may raise ``TimeoutError`` or ``ConnectionError`` to
play a network failure. Like the emulator, this module does not import the client: it
fits the client's transport interface by shape alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import anyio
import anyio.lowlevel
import msgspec
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL


class MockRequest(Protocol):
    """What a handler receives (the client's request object)."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> URL: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes | None: ...

    @property
    def timeout(self) -> float: ...

    @property
    def json(self) -> Any: ...


class MockResponse:
    """An answer: ``status`` (200), a ``json`` document or raw ``content``, ``headers``."""

    __slots__ = ("content", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if json is not None and content is not None:
            raise ValueError("give json= or content=, not both")
        self.status = status
        self.content = msgspec.json.encode(json) if json is not None else (content or b"")
        found: CIMultiDict[str] = CIMultiDict(headers or {})
        if json is not None:
            found.setdefault("Content-Type", "application/json")
        self.headers = CIMultiDictProxy(found)

    def __repr__(self) -> str:
        return f"MockResponse(status={self.status}, {len(self.content)} bytes)"


Handler = Callable[[MockRequest], MockResponse | Awaitable[MockResponse]]


class MockTransport:
    """Calls ``handler`` for every request, within the request's timeout.

    ``requests`` keeps every request in order, for assertions on what went over the wire.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[MockRequest] = []
        self.closed = False

    async def handle(self, request: MockRequest) -> MockResponse:
        self.requests.append(request)
        # A real request always yields to the event loop; so does this one, or a sync
        # handler would let a whole broadcast run without a deadline or cancel firing.
        await anyio.lowlevel.checkpoint()
        with anyio.fail_after(request.timeout):
            answer = self._handler(request)
            if inspect.isawaitable(answer):
                answer = await answer
        if not isinstance(answer, MockResponse):
            raise TypeError(f"the handler returned {answer!r}, not a MockResponse")
        return answer

    async def aclose(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"MockTransport(requests={len(self.requests)})"
