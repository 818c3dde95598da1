"""What the emulator saw: recorded requests, per-path counts, concurrency high-water marks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from ._wire import PAYLOAD_KEY, decode

RECORDED_HEADERS = ("Content-Type", "User-Agent", "Accept", "Accept-Encoding", "Content-Length")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request and the answer it got (``status`` 0 = connection dropped, no answer)."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    json: Any | None
    headers: dict[str, str]
    status: int
    response: Any | None
    fault: str | None = None


@dataclass
class Recorder:
    """Counters are kept even in lean mode (they are cheap); full records only when asked."""

    record: bool = True
    requests: list[RecordedRequest] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    in_flight_by_path: Counter[str] = field(default_factory=Counter)
    max_in_flight_by_path: dict[str, int] = field(default_factory=dict)

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

    def add(self, request: web.Request, body: bytes, response: web.StreamResponse | None,
            fault: str | None) -> None:
        parsed: Any | None = None
        if body and "json" in request.content_type:
            try:
                parsed = decode(body)
            except msgspec.DecodeError:
                parsed = None
        headers = {h: request.headers[h] for h in RECORDED_HEADERS if h in request.headers}
        self.requests.append(RecordedRequest(
            method=request.method, path=request.path, query=dict(request.query), body=body,
            json=parsed, headers=headers, status=0 if response is None else response.status,
            response=None if response is None else response.get(PAYLOAD_KEY), fault=fault))

    def reset(self) -> None:
        self.requests.clear()
        self.counts.clear()
        self.max_in_flight = self.in_flight
        self.max_in_flight_by_path = {p: n for p, n in self.in_flight_by_path.items() if n}
