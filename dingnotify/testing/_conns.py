"""Closing idle and half-sent connections, so stalled clients cannot exhaust descriptors.

aiohttp's server waits without limit for a request's headers, and for a body the client
stops sending; its keep-alive timer starts only after a first answer. A thousand half-sent
requests therefore held a thousand descriptors for ever. ``ConnectionGuard`` sweeps the
server's connections a few times per ``timeout`` and closes:

* a connection with no request being served for longer than ``timeout`` (nothing sent, a
  partial request line or headers, or idle keep-alive): a total deadline, so dripping one
  byte at a time does not extend it;
* a connection whose request body is incomplete and has not grown for ``timeout``.

A request whose body has fully arrived is never cut, however long its handler takes (the
``delay`` fault relies on that); a body the handler leaves unread longer than the timeout
stops growing once aiohttp's read buffer is full, and is cut. Clients notice a pooled
connection closed while idle and open a new one, so the default of 20 s only bounds how long
stalled clients hold descriptors.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

DEFAULT_IDLE_TIMEOUT = 20.0


@dataclass(slots=True)
class _Conn:
    since: float
    """Start of the current idle spell, or the last time the request body grew."""
    busy: int = 0
    request: web.BaseRequest | None = None
    body_bytes: int = 0


class ConnectionGuard:
    """Tracks each connection's state from the middleware and sweeps stalled ones away."""

    def __init__(self, timeout: float = DEFAULT_IDLE_TIMEOUT) -> None:
        if not timeout > 0:
            raise ValueError("idle_timeout must be positive")
        self.timeout = timeout
        self.closed = 0
        self._conns: dict[web.RequestHandler, _Conn] = {}

    @property
    def period(self) -> float:
        return min(1.0, self.timeout / 4)

    def entered(self, request: web.BaseRequest) -> None:
        conn = self._conn(request.protocol)
        conn.busy += 1
        conn.request = request
        conn.since = _now()
        conn.body_bytes = request.content.total_bytes

    def left(self, request: web.BaseRequest) -> None:
        conn = self._conns.get(request.protocol)
        if conn is not None:
            conn.busy = max(0, conn.busy - 1)
            conn.request = None
            conn.since = _now()

    def sweep(self, handlers: list[web.RequestHandler]) -> int:
        """Close the stalled ones among ``handlers`` (the server's connections)."""
        now = _now()
        alive = {h: self._conns.get(h) or _Conn(now) for h in handlers}
        self._conns = alive
        stalled = [h for h, conn in alive.items() if self._stalled(conn, now)]
        for handler in stalled:
            handler.force_close()
            del alive[handler]
        self.closed += len(stalled)
        return len(stalled)

    def _stalled(self, conn: _Conn, now: float) -> bool:
        request = conn.request
        if conn.busy and request is not None:
            if request.content.is_eof():
                return False
            grown = request.content.total_bytes
            if grown != conn.body_bytes:
                conn.body_bytes, conn.since = grown, now
                return False
        return now - conn.since > self.timeout

    async def run(self, server: web.Server) -> None:
        """Sweep every ``period`` seconds until cancelled (the emulator's lifetime)."""
        while True:
            await asyncio.sleep(self.period)
            self.sweep(server.connections)

    def _conn(self, handler: web.RequestHandler) -> _Conn:
        conn = self._conns.get(handler)
        if conn is None:
            conn = self._conns[handler] = _Conn(_now())
        return conn


def _now() -> float:
    return asyncio.get_running_loop().time()
