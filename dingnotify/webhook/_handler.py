"""``WebhookHandler``: a ``logging.Handler`` that posts records to a DingTalk group.

``emit`` only formats the record and puts it on a bounded queue, so the application never
waits on the network. A daemon thread with its own event loop and its own robot drains
the queue: it waits for the robot's window, then sends everything queued meanwhile as one
message, so a storm of errors still stays under 20 messages a minute. When the queue is
full, records are counted as dropped and the next message says how many.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import queue
import threading
import time
from collections import deque

from .._retry import RetryPolicy
from ._messages import Text
from ._options import RATE_LIMIT_ATTEMPTS
from ._pacing import SHARED, SlidingWindowLimiter, WindowGovernor
from ._robot import MAX_BODY_BYTES, WebhookRobot
from ._split import json_cost

DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SEPARATOR = "\n\n"
RECORD_LIMIT = 4_000  # JSON bytes of one record in a message; longer ones are truncated
MESSAGE_BUDGET = MAX_BODY_BYTES - 500  # room for the envelope and the dropped notice
WAKE_INTERVAL = 0.1  # how soon a thread waiting for the window notices close()
_STOP = object()


class WebhookHandler(logging.Handler):
    """Send log records (``ERROR`` and up by default) to a group robot, never blocking.

    ``capacity`` bounds the queue; ``limiter`` replaces the robot's shared window (tests);
    ``close()`` flushes for at most ``flush_timeout`` seconds, and so does interpreter exit.
    """

    def __init__(self, url: str, secret: str | None = None, level: int = logging.ERROR, *,
                 capacity: int = 1_000, flush_timeout: float = 5.0,
                 limiter: SlidingWindowLimiter | None = None, timeout: float = 5.0) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(DEFAULT_FORMAT))
        budget = SHARED if limiter is None else WindowGovernor(limiter)
        self._robot = WebhookRobot(url, secret, governor=budget, timeout=timeout,
                                   retry=RetryPolicy(max_attempts=2, base_delay=0.2,
                                                     rate_limit_attempts=RATE_LIMIT_ATTEMPTS))
        del url, secret
        self._window = budget.window(self._robot.api)
        self._capacity = capacity
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._pending: deque[str] = deque()
        self._drop_lock = threading.Lock()
        self._unreported = 0
        self.dropped = 0
        """Records lost so far: queue full, failed sends, or still queued at exit."""
        self.messages_sent = 0
        self.flush_timeout = flush_timeout
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="dingnotify-webhook",
                                        daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # -- the application side: cheap, never raises --------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the formatted record; count it as dropped if the queue is full."""
        if threading.current_thread() is self._thread:
            return  # our own thread's logging (aiohttp, the robot) must not loop back
        if self._deadline is not None:
            self._count_dropped(1)  # closed: nobody will send it
            return
        try:
            self._queue.put_nowait(self.format(record))
        except queue.Full:
            self._count_dropped(1)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        """Send what is queued (waiting at most ``flush_timeout``), then stop the thread."""
        atexit.unregister(self.close)
        if self._thread.is_alive() and self._deadline is None:
            self._deadline = time.monotonic() + self.flush_timeout
            with contextlib.suppress(queue.Full):  # the thread also watches the deadline
                self._queue.put(_STOP, timeout=self.flush_timeout)
            self._thread.join(self.flush_timeout + 1.0)
        super().close()

    def _count_dropped(self, n: int) -> None:
        with self._drop_lock:
            self._unreported += n
            self.dropped += n

    # -- the background thread -----------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            with contextlib.suppress(Exception):  # never into the application
                loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        robot = self._robot
        try:
            stopping = False
            while True:
                if not stopping and not self._pending:
                    stopping = self._take(block=True)
                if stopping and not self._pending and not self._unreported:
                    break
                if not await self._wait_for_window(self._window):
                    break
                stopping = self._take(block=False) or stopping
                await self._send_batch(robot)
            self._take(block=False, bound=False)
            self._count_dropped(len(self._pending))
            self._pending.clear()
        finally:
            await robot.close()

    async def _wait_for_window(self, limiter: SlidingWindowLimiter) -> bool:
        """Wait until the robot may send (records pile up meanwhile: one message for all).

        Sleeps in short slices so ``close()`` is noticed; False if its deadline would pass.
        """
        while True:
            wait = limiter.delay()
            if self._deadline is not None and time.monotonic() + wait > self._deadline:
                return False
            if wait <= 0:
                return True
            await asyncio.sleep(min(wait, WAKE_INTERVAL))

    def _take(self, *, block: bool, bound: bool = True) -> bool:
        """Move queued records to ``_pending``; True once the stop marker was seen."""
        while not bound or len(self._pending) < self._capacity:
            try:
                item = self._queue.get(timeout=0.25) if block else self._queue.get_nowait()
            except queue.Empty:
                if block and self._deadline is None:
                    continue
                return self._deadline is not None and block
            block = False
            if item is _STOP:
                return True
            self._pending.append(str(item))
        return False

    async def _send_batch(self, robot: WebhookRobot) -> None:
        records = self._next_batch()
        with self._drop_lock:
            dropped, self._unreported = self._unreported, 0
        if dropped:
            records.append(f"({dropped} more records dropped)")
        if not records:
            return
        try:
            await robot.send(Text(content=SEPARATOR.join(records)))
            self.messages_sent += 1
        except Exception:
            lost = len(records) - (1 if dropped else 0)
            with self._drop_lock:  # the next message reports them, and the earlier ones
                self._unreported += dropped + lost
                self.dropped += lost

    def _next_batch(self) -> list[str]:
        records: list[str] = []
        used = 0
        while self._pending:
            record = _truncate(self._pending[0])
            cost = json_cost(record) + json_cost(SEPARATOR)
            if records and used + cost > MESSAGE_BUDGET:
                break
            self._pending.popleft()
            records.append(record)
            used += cost
        return records


def _truncate(record: str) -> str:
    if json_cost(record) <= RECORD_LIMIT:
        return record
    cut = record[: RECORD_LIMIT // 6]  # at most 6 JSON bytes per character
    return cut + " … (truncated)"
