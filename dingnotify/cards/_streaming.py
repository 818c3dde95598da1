"""``client.cards.streaming``: a card variable typed out, AI-style, within the quota.

Writes are coalesced: at most one ``PUT /v1.0/card/streaming`` per ``interval`` seconds
(1.5 by default), each carrying the whole text so far with ``isFull`` true, which every
variable type accepts (markdown refuses appends). The text is therefore capped at
``max_bytes`` (1 KB, DingTalk's per-call limit). Leaving the block sends the final text
with ``isFinalize``; leaving it with an exception sends it with ``isError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType

from .._errors import ValidationError

logger = logging.getLogger("dingnotify.cards")
STREAM_INTERVAL = 1.5
"""Seconds between two writes of one card: the pace the reference advises per outTrackId."""
MAX_STREAM_BYTES = 1024

class CardStream:
    """Returned by ``client.cards.streaming``; use as ``async with ... as s: await s.write``."""

    def __init__(self, put: Callable[[str, bool, bool, str], Awaitable[None]], *,
                 interval: float = STREAM_INTERVAL, max_bytes: int = MAX_STREAM_BYTES) -> None:
        self._put = put
        self.interval = interval
        self.max_bytes = max_bytes
        self.text = ""
        self.writes = 0
        """Calls sent so far."""
        self._sent = ""
        self._last = -float("inf")
        self._flush: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def write(self, text: str) -> None:
        """Append ``text``; sent now if ``interval`` has passed since the last call, else
        with the next one (a timer makes sure it goes out)."""
        if not isinstance(text, str):
            raise ValidationError("write takes a str")
        if len((self.text + text).encode()) > self.max_bytes:
            raise ValidationError(f"the streamed text would pass {self.max_bytes} bytes, "
                                  "DingTalk's limit per call")
        if self._flush is not None and self._flush.done() and self._flush.exception():
            raise self._flush.exception()  # type: ignore[misc]
        self.text += text
        wait = self._last + self.interval - time.monotonic()
        if wait <= 0:
            await self._send(final=False, error=False)
        elif self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._later(wait))

    async def _later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        await self._send(final=False, error=False)

    async def _send(self, *, final: bool, error: bool) -> None:
        async with self._lock:
            if not final and self.text == self._sent:
                return
            self._last = time.monotonic()
            self._sent = self.text
            self.writes += 1
            await self._put(self.text or " ", final, error, uuid.uuid4().hex)

    async def __aenter__(self) -> CardStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._flush is not None:
            self._flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush
        if exc is None:
            await self._send(final=True, error=False)
            return
        try:  # the block's own error is the one to raise
            await self._send(final=True, error=True)
        except Exception as failed:
            logger.warning("card stream: the final write failed too (%s)",
                           type(failed).__name__)
