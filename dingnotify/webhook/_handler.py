"""``WebhookHandler``: a ``logging.Handler`` that posts records to a DingTalk group.

``emit`` only formats the record, cuts it to ``RECORD_LIMIT`` bytes and puts it on a
bounded queue, so the application never waits on the network and the queue bounds bytes,
not only records. A daemon thread with its own event loop and its own robot drains the
queue: it waits for the robot's window, then sends everything queued meanwhile as one
message, using at most ``share`` (half) of the robot's 20 messages a minute so the
application's own sends to the group still go out. When the queue is full, records are
counted as dropped, the next message says how many, and stderr is told once per burst
(the drops between two messages), as ``handleError`` would: honouring
``logging.raiseExceptions``. A robot that refuses the messages
(keyword rule, wrong secret, unknown token) is reported on stderr, once per cause. After
``os.fork()`` the child gets a worker of its own (records queued before the fork stay with
the parent, which sends them).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable

from .._errors import ValidationError
from .._redact import Secret
from .._retry import RetryPolicy
from ._messages import Text
from ._options import RATE_LIMIT_ATTEMPTS
from ._pacing import SHARED, SlidingWindowLimiter, WindowGovernor
from ._robot import MAX_BODY_BYTES, WebhookRobot
from ._split import json_cost

DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SEPARATOR = "\n\n"
RECORD_LIMIT = 4_000  # JSON bytes of one record; emit cuts longer ones
MESSAGE_BUDGET = MAX_BODY_BYTES - 500  # room for the envelope and the dropped notice
WAKE_INTERVAL = 0.1  # how soon a thread waiting for the window notices close()
CLOSE_RESERVE = 0.25  # of flush_timeout, kept to close the connection pool
TRUNCATED = " ... (truncated)"  # ASCII: a cut ASCII record stays one byte a character
_STOP = object()
LOGGER = "dingnotify.webhook"  # the name on the handler's own reports


class DroppedRecordsError(Exception):
    """What ``handleError`` shows when ``emit`` drops records."""


class _CloseDeadline(Exception):
    """close()'s deadline came while a message was in flight: it was given up."""


class WebhookHandler(logging.Handler):
    """Send log records (``ERROR`` and up by default) to a group robot, never blocking.

    ``capacity`` bounds the queue; each record is cut to ``RECORD_LIMIT`` (4,000) JSON
    bytes in ``emit``, so queued and waiting records (twice ``capacity`` at most) take at
    most about 8 KB × ``capacity``, whatever the application logs. ``share`` is the
    fraction of the robot's 20 messages a minute the handler may use (half by default:
    the application's own sends to the group never wait for a log storm).
    ``limiter`` replaces the robot's shared window (tests). ``close()`` (and interpreter
    exit) flushes and returns within ``flush_timeout`` seconds, whatever the webhook does.
    Failed sends are reported on stderr like ``handleError``, once per error class and
    reason. After ``os.fork()`` the child restarts the worker.
    """

    def __init__(self, url: str, secret: str | None = None, level: int = logging.ERROR, *,
                 capacity: int = 1_000, flush_timeout: float = 5.0,
                 limiter: SlidingWindowLimiter | None = None, timeout: float = 5.0,
                 share: float = 0.5) -> None:
        if not 0 < share <= 1:
            raise ValidationError("share must be > 0 and <= 1")
        super().__init__(level)
        self.setFormatter(logging.Formatter(DEFAULT_FORMAT))
        self._budget = SHARED if limiter is None else WindowGovernor(limiter)
        self._timeout = timeout
        self._url = Secret(url)
        self._secret = None if secret is None else Secret(secret)
        del url, secret
        self._robot = self._new_robot()
        self._window = self._budget.window(self._robot.api)
        self._share_fraction = share
        self._capacity = capacity
        self.flush_timeout = flush_timeout
        self._inherited: list[WebhookRobot] = []
        self._start()
        _LIVE.add(self)
        atexit.register(self.close)

    def _new_robot(self) -> WebhookRobot:
        return WebhookRobot(self._url.reveal(),
                            None if self._secret is None else self._secret.reveal(),
                            governor=self._budget, timeout=self._timeout,
                            retry=RetryPolicy(max_attempts=2, base_delay=0.2,
                                              rate_limit_attempts=RATE_LIMIT_ATTEMPTS))

    def _start(self) -> None:
        """Fresh state and a fresh worker thread (at creation, and in a forked child)."""
        window = self._window
        self._share = SlidingWindowLimiter(max(1, int(window.limit * self._share_fraction)),
                                           window.period, clock=window.clock)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=self._capacity)
        self._pending: deque[str] = deque()
        self._drop_lock = threading.Lock()
        self._unreported = 0
        self._bursting = False  # emit dropped records since the last message was taken
        self._reported: set[tuple[str, str]] = set()
        self.dropped = 0
        """Records lost so far: queue full, failed sends, or still queued at exit."""
        self.messages_sent = 0
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="dingnotify-webhook",
                                        daemon=True)
        self._thread.start()

    def _after_fork_in_child(self) -> None:
        """The parent's thread does not exist here: start ours. What the parent queued is
        the parent's to send; its robot (pool, event loop) is left alone, never closed."""
        if self._deadline is not None:
            return  # closed before the fork
        self._inherited.append(self._robot)
        self._robot = self._new_robot()
        self._start()

    # -- the application side: cheap, never raises --------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the formatted record, cut to ``RECORD_LIMIT`` bytes; count it as dropped
        if the queue is full."""
        if threading.current_thread() is self._thread:
            return  # our own thread's logging (aiohttp, the robot) must not loop back
        if self._deadline is not None:
            self._dropped_in_emit("the handler is closed")  # nobody will send it
            return
        try:
            self._queue.put_nowait(_truncate(self.format(record)))
        except queue.Full:
            self._dropped_in_emit(f"its queue of {self._capacity} records is full")
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        """Send what is queued, then stop the thread; returns within ``flush_timeout``."""
        atexit.unregister(self.close)
        _LIVE.discard(self)
        if self._thread.is_alive() and self._deadline is None:
            started = time.monotonic()
            end = started + self.flush_timeout
            # sending stops a little earlier: closing the pool must fit in too
            self._deadline = end - min(CLOSE_RESERVE, self.flush_timeout / 4)
            with contextlib.suppress(queue.Full):  # the thread also watches the deadline
                self._queue.put_nowait(_STOP)
            self._bursting = False  # records logged after close() are a burst of their own
            self._thread.join(max(0.0, end - time.monotonic()))
        super().close()

    def _count_dropped(self, n: int) -> None:
        with self._drop_lock:
            self._unreported += n
            self.dropped += n

    def _dropped_in_emit(self, why: str) -> None:
        """Count a record ``emit`` could not queue; the first of a burst (the drops between
        two messages to the group) is reported on stderr through ``handleError``."""
        with self._drop_lock:
            self._unreported += 1
            self.dropped += 1
            first, self._bursting = not self._bursting, True
        if first:
            self._tell_stderr(DroppedRecordsError(why),
                              f"WebhookHandler is dropping log records: {why}; they are "
                              "counted in `dropped` and the group is told how many (reported "
                              "once per burst)")

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
            stopping = failed = False
            while True:
                if not stopping and not self._pending:
                    stopping = self._take(block=True)
                if stopping and not self._pending and (not self._unreported or failed):
                    break  # closing: a notice the robot just refused is not tried again
                if not await self._wait_for_window():
                    break
                stopping = self._take(block=False) or stopping
                failed = not await self._send_batch(robot)
            self._take(block=False, bound=False)
            self._count_dropped(len(self._pending))
            self._pending.clear()
        finally:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(robot.close(), self._time_left(CLOSE_RESERVE))

    def _time_left(self, default: float) -> float | None:
        if self._deadline is None:
            return None
        return max(0.01, self._deadline - time.monotonic() + default)

    async def _wait_for_window(self) -> bool:
        """Wait until the robot may send and the handler's share allows it (records pile
        up meanwhile: one message for all).

        Sleeps in short slices so ``close()`` is noticed; False if its deadline would pass.
        """
        while True:
            wait = max(self._share.delay(), self._window.delay())
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

    async def _send_batch(self, robot: WebhookRobot) -> bool:
        """Send the next message; False if it failed (its records counted as dropped)."""
        records = self._next_batch()
        with self._drop_lock:
            dropped, self._unreported = self._unreported, 0
            self._bursting = False  # this message tells the group: the next drop is news
        if dropped:
            records.append(f"({dropped} more records dropped)")
        if not records:
            return True
        try:
            self._share.reserve()
            await self._until_deadline(robot.send(Text(content=SEPARATOR.join(records))))
            self.messages_sent += 1
        except Exception as error:
            lost = len(records) - (1 if dropped else 0)
            with self._drop_lock:  # the next message reports them, and the earlier ones
                self._unreported += dropped + lost
                self.dropped += lost
            if not isinstance(error, _CloseDeadline):
                self._report(error, lost)
            return False
        return True

    async def _until_deadline(self, sending: Awaitable[object]) -> None:
        """Await the send, giving it up when close()'s deadline comes."""
        task = asyncio.ensure_future(sending)
        while True:
            done, _ = await asyncio.wait({task}, timeout=WAKE_INTERVAL)
            if done:
                task.result()
                return
            if self._deadline is not None and time.monotonic() >= self._deadline:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise _CloseDeadline

    def _report(self, error: Exception, lost: int) -> None:
        """Tell stderr, as ``handleError`` does, the first time this cause loses records."""
        cause = (type(error).__name__, str(getattr(error, "reason", "")))
        if cause in self._reported:
            return
        self._reported.add(cause)
        reason = f", reason {cause[1]!r}" if cause[1] else ""
        self._tell_stderr(error, f"WebhookHandler could not send {lost} log record(s): "
                                 f"{cause[0]}{reason}; they are counted in `dropped`, and "
                                 "later failures of this kind are not reported")

    def _tell_stderr(self, error: Exception, text: str) -> None:
        """``handleError``'s report of ``error`` (nothing if ``logging.raiseExceptions`` is
        off), with ``text`` as the message."""
        record = logging.LogRecord(LOGGER, logging.ERROR, __file__, 0, text, None, None)
        try:
            raise error
        except Exception:
            self.handleError(record)

    def _next_batch(self) -> list[str]:
        records: list[str] = []
        used = 0
        while self._pending:
            record = self._pending[0]
            cost = json_cost(record) + json_cost(SEPARATOR)
            if records and used + cost > MESSAGE_BUDGET:
                break
            self._pending.popleft()
            records.append(record)
            used += cost
        return records


def _truncate(record: str) -> str:
    """``record`` within ``RECORD_LIMIT`` JSON bytes (looked at no further than needed)."""
    if len(record) <= RECORD_LIMIT // 6:  # at most 6 JSON bytes per character
        return record
    if len(record) <= RECORD_LIMIT and json_cost(record) <= RECORD_LIMIT:
        return record
    room = RECORD_LIMIT - json_cost(TRUNCATED)
    cut = record[:room]
    if json_cost(cut) > room:
        cut = record[: room // 6]
    return cut + TRUNCATED


_LIVE: weakref.WeakSet[WebhookHandler] = weakref.WeakSet()
"""Every open handler, held weakly: registering for fork keeps none of them alive."""


def _restart_after_fork() -> None:
    for handler in list(_LIVE):
        handler._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_after_fork)
