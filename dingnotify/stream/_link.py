"""One WebSocket to the Stream gateway: frames in, acks out, and how the link ended.

The link watches itself: aiohttp's heartbeat pings every ``heartbeat`` seconds and closes
the socket when no pong comes within half of that, and a link on which no frame of any
kind arrives for ``idle_timeout`` seconds is given up as a zombie. A SYSTEM ``disconnect``
marks the link ``going_away``: the client opens the next one at once while this one keeps
reading (acks of handlers still running go out on it) until the gateway closes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp

from ._frames import Frame, decode_frame

logger = logging.getLogger("dingnotify.stream")


class Link:
    """One connection; ``read`` runs until the socket ends, handing frames to ``on_frame``."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, number: int,
                 idle_timeout: float) -> None:
        self.ws = ws
        self.number = number
        self.idle_timeout = idle_timeout
        self.going_away = asyncio.Event()
        self.ended = asyncio.Event()
        self.reason = ""
        self._lock = asyncio.Lock()

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def send(self, text: bytes) -> bool:
        """Write one ack; False if the link is gone (the gateway will push again)."""
        if self.ws.closed:
            return False
        async with self._lock:
            try:
                await self.ws.send_str(text.decode())
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                return False
        return True

    async def read(self, on_frame: Callable[[Link, Frame], None]) -> None:
        try:
            while True:
                try:
                    message = await self.ws.receive(timeout=self.idle_timeout)
                except TimeoutError:
                    self.reason = f"no frame for {self.idle_timeout:g}s"
                    break
                if message.type == aiohttp.WSMsgType.TEXT:
                    frame = decode_frame(message.data)
                    if frame is not None:
                        on_frame(self, frame)
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                                      aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    self.reason = "closed" if message.type != aiohttp.WSMsgType.ERROR \
                        else f"error {type(message.data).__name__}"
                    break
        finally:
            self.ended.set()
            await self.close()

    async def close(self) -> None:
        if not self.ws.closed:
            try:
                await asyncio.wait_for(self.ws.close(), 2.0)
            except (TimeoutError, ConnectionError, aiohttp.ClientError):
                logger.debug("link %d: close did not finish", self.number)
