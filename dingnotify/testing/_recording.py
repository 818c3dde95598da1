"""What the emulator saw: recorded requests, per-path counts, concurrency high-water marks.

Recording is bounded so a long run or a hostile client cannot grow the server without end:
each record keeps at most the first ``body_limit`` bytes of its body (plus the true length
and a ``body_truncated`` flag; a truncated JSON body is not parsed), and at most
``limit`` records are kept, oldest dropped first (``dropped`` counts them).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from ._wire import PAYLOAD_KEY, decode

RECORDED_HEADERS = ("Content-Type", "User-Agent", "Accept", "Accept-Encoding", "Content-Length")
RECORD_LIMIT = 100_000
BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request and the answer it got (``status`` 0 = connection dropped, no answer).

    ``body`` holds at most the recorder's body limit; ``body_size`` is the true length.
    """

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    json: Any | None
    headers: dict[str, str]
    status: int
    response: Any | None
    fault: str | None = None
    body_size: int = 0
    body_truncated: bool = False


@dataclass
class Recorder:
    """Counters are kept even in lean mode (they are cheap); full records only when asked."""

    record: bool = True
    limit: int = RECORD_LIMIT
    body_limit: int = BODY_LIMIT
    counts: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    in_flight_by_path: Counter[str] = field(default_factory=Counter)
    max_in_flight_by_path: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    _records: deque[RecordedRequest] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._idle_waiters: list[asyncio.Event] = []
        if self.limit < 1 or self.body_limit < 0:
            raise ValueError("record limit must be >= 1 and body limit >= 0")
        self._records = deque(maxlen=self.limit)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the kept records, oldest first."""
        return list(self._records)

    def enter(self, path: str) -> None:
        self.counts[path] += 1
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight
        current = self.in_flight_by_path[path] = self.in_flight_by_path[path] + 1
        if current > self.max_in_flight_by_path.get(path, 0):
            self.max_in_flight_by_path[path] = current

    def leave(self, path: str) -> None:
        self.in_flight -= 1
        self.in_flight_by_path[path] -= 1
        if self.in_flight == 0:
            for waiter in self._idle_waiters:
                waiter.set()
            self._idle_waiters.clear()

    async def idle(self) -> None:
        """Return once no request is being handled."""
        if self.in_flight:
            waiter = asyncio.Event()
            self._idle_waiters.append(waiter)
            await waiter.wait()

    def add(self, request: web.Request, body: bytes, response: web.StreamResponse | None,
            fault: str | None) -> None:
        size = len(body) if body else (request.content_length or 0)
        truncated = len(body) > self.body_limit
        kept = body[:self.body_limit] if truncated else body
        parsed: Any | None = None
        if kept and not truncated and "json" in request.content_type:
            try:
                parsed = decode(kept)
            except msgspec.DecodeError:
                parsed = None
        headers = {h: request.headers[h] for h in RECORDED_HEADERS if h in request.headers}
        if len(self._records) == self.limit:
            self.dropped += 1
        self._records.append(RecordedRequest(
            method=request.method, path=request.path, query=dict(request.query), body=kept,
            json=parsed, headers=headers, status=0 if response is None else response.status,
            response=None if response is None else response.get(PAYLOAD_KEY), fault=fault,
            body_size=size, body_truncated=truncated))

    def reset(self) -> None:
        self._records.clear()
        self.dropped = 0
        self.counts.clear()
        self.max_in_flight = self.in_flight
        self.max_in_flight_by_path = {p: n for p, n in self.in_flight_by_path.items() if n}
