"""WebhookHandler as an operator meets it: after ``os.fork()``, on a robot that refuses
everything, with a webhook that never answers, under huge records and a burst that must
leave the application half of the robot's budget."""

from __future__ import annotations

import gc
import io
import logging
import os
import signal
import socket
import sys
import time
import warnings
import weakref
from collections.abc import Callable, Iterator

import pytest

from dingnotify import ValidationError
from dingnotify.webhook import SlidingWindowLimiter, WebhookHandler
from dingnotify.webhook._handler import RECORD_LIMIT
from dingnotify.webhook._split import json_cost
from tests.cli_e2e.conftest import ThreadedEmulator

TOKEN = "robotTOKEN0123456789abcdef"
SECRET = "SECrobot0123456789abcdefghij"


class Clock:
    """A clock that moves only when told (a copy of it moves on its own in a forked child)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("tests.webhook.hardening")
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


def closed_window(clock: Clock, limit: int = 1, period: float = 60.0) -> SlidingWindowLimiter:
    """A window on ``clock`` that is full until the clock moves ``period`` on."""
    limiter = SlidingWindowLimiter(limit, period, clock=clock)
    for _ in range(limit):
        limiter.reserve()
    return limiter


# -- item 2: os.fork() ------------------------------------------------------------------


def wait_child(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_handler_restarts_in_a_forked_child_without_resending_the_parents_records(
        logger: logging.Logger) -> None:
    clock = Clock()
    with ThreadedEmulator() as emu:
        group = emu.add_webhook_robot(TOKEN, secret=SECRET)
        handler = WebhookHandler(emu.webhook_url(TOKEN), SECRET, flush_timeout=3.0,
                                 limiter=closed_window(clock))
        logger.addHandler(handler)
        try:
            logger.error("parent record before the fork")  # queued: the window is full
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # 3.12: threads + fork
                pid = os.fork()
            if pid == 0:  # the child: always leaves through os._exit
                code = 1
                try:
                    clock.now += 120.0  # the child's copy of the window opens
                    logger.error("child record")
                    handler.close()
                    code = 0 if handler.messages_sent == 1 and handler.dropped == 0 else 3
                finally:
                    os._exit(code)
            child_code = wait_child(pid, 15.0)
            clock.now += 120.0  # now the parent's window opens too
            assert until(lambda: len(group.messages) >= 2, 5.0)
        finally:
            logger.removeHandler(handler)
            handler.close()
        messages = [m["text"]["content"] for m in group.messages]
    assert child_code == 0
    joined = "\n".join(messages)
    assert joined.count("child record") == 1
    assert joined.count("parent record before the fork") == 1  # sent by the parent only
    assert handler.messages_sent == 1 and handler.dropped == 0


def test_fork_registration_keeps_no_handler_alive() -> None:
    handler = WebhookHandler(f"http://127.0.0.1:9/robot/send?access_token={TOKEN}",
                             flush_timeout=0.5, limiter=SlidingWindowLimiter(20, 60.0))
    handler.close()
    gone = weakref.ref(handler)
    del handler
    gc.collect()
    assert gone() is None


# -- item 3: a robot that refuses everything ----------------------------------------------


def test_handler_reports_a_refusing_robot_once_per_cause(
        logger: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    with ThreadedEmulator() as emu:
        group = emu.add_webhook_robot(TOKEN, secret=SECRET, keywords=("ALERT",))
        wrong = emu.add_webhook_robot(TOKEN + "x", secret=SECRET)
        handler = WebhookHandler(emu.webhook_url(TOKEN), SECRET,
                                 limiter=SlidingWindowLimiter(20, 0.2))
        other = WebhookHandler(emu.webhook_url(TOKEN + "x"), SECRET + "wrong",
                               limiter=SlidingWindowLimiter(20, 0.2))
        logger.addHandler(handler)
        logger.addHandler(other)
        try:
            for i in range(4):
                logger.error("no keyword here %d", i)
                assert until(lambda i=i: sum(dict(group.answers).values()) > i)
                assert until(lambda i=i: sum(dict(wrong.answers).values()) > i)
        finally:
            logger.removeHandler(handler)
            logger.removeHandler(other)
            handler.close()
            other.close()
        assert set(dict(group.answers)) == {310000} and set(dict(wrong.answers)) == {310000}
    text = stderr.getvalue()
    assert text.count("--- Logging error ---") == 2, text
    assert text.count("WebhookRejectedError") >= 2 and "keywords" in text and "signature" in text
    assert SECRET not in text and TOKEN not in text
    assert handler.dropped == 4 and other.dropped == 4


def test_handler_refusal_report_honours_raise_exceptions(
        logger: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setattr(logging, "raiseExceptions", False)
    with ThreadedEmulator() as emu:
        group = emu.add_webhook_robot(TOKEN, secret=SECRET, keywords=("ALERT",))
        handler = WebhookHandler(emu.webhook_url(TOKEN), SECRET,
                                 limiter=SlidingWindowLimiter(20, 0.2))
        logger.addHandler(handler)
        try:
            logger.error("no keyword here")
            assert until(lambda: bool(group.answers))
        finally:
            logger.removeHandler(handler)
            handler.close()
    assert stderr.getvalue() == ""
    assert handler.dropped == 1


# -- item 11: bounded shutdown, bounded bytes, half the budget ----------------------------


def test_close_returns_within_flush_timeout_with_a_webhook_that_never_answers(
        logger: logging.Logger) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        handler = WebhookHandler(f"http://127.0.0.1:{port}/robot/send?access_token={TOKEN}",
                                 flush_timeout=1.0, limiter=SlidingWindowLimiter(20, 60.0),
                                 capacity=10)
        logger.addHandler(handler)
        logger.error("never answered")
        time.sleep(0.3)  # the send is in flight
        for i in range(30):
            logger.error("queued behind it %d", i)  # the queue is full too
        started = time.monotonic()
        handler.close()
        elapsed = time.monotonic() - started
    assert elapsed <= 1.0 + 0.2, elapsed
    assert until(lambda: not handler._thread.is_alive(), 1.0)
    assert handler.messages_sent == 0 and handler.dropped == 31


def test_emit_truncates_each_record_so_the_queue_bounds_bytes(logger: logging.Logger) -> None:
    clock = Clock()
    handler = WebhookHandler(f"http://127.0.0.1:9/robot/send?access_token={TOKEN}",
                             capacity=3_000, flush_timeout=0.5, limiter=closed_window(clock))
    logger.addHandler(handler)
    huge = "x" * (256 * 1024)
    wide = "é" * (256 * 1024)  # two UTF-8 bytes a character
    try:
        for i in range(100):
            logger.error("%d %s", i, huge if i % 2 else wide)
        held = list(handler._queue.queue) + list(handler._pending)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert len(held) == 100
    assert all(isinstance(r, str) and json_cost(r) <= RECORD_LIMIT for r in held)
    assert all(r.endswith("(truncated)") for r in held)
    held_bytes = sum(sys.getsizeof(r) for r in held)
    assert held_bytes < 100 * (RECORD_LIMIT + 100), held_bytes  # 256 KiB each before: 25 MiB
    assert handler.dropped == 100  # the window never opened before close()


def test_share_is_checked() -> None:
    for share in (0.0, -0.5, 1.5):
        with pytest.raises(ValidationError):
            WebhookHandler(f"http://127.0.0.1:9/robot/send?access_token={TOKEN}", share=share)


def test_handler_takes_at_most_half_of_the_robots_budget(logger: logging.Logger) -> None:
    clock = Clock()
    window = SlidingWindowLimiter(20, 60.0, clock=clock)  # the URL's budget, time frozen
    with ThreadedEmulator() as emu:
        group = emu.add_webhook_robot(TOKEN)
        handler = WebhookHandler(emu.webhook_url(TOKEN), limiter=window)
        logger.addHandler(handler)
        try:
            for i in range(20):  # one record at a time: each could be a message of its own
                logger.error("burst %d", i)
                if not until(lambda i=i: handler.messages_sent > i, 1.0):
                    break
            sent = handler.messages_sent
            # the application's own robot still has the other half, at once
            waits = [window.reserve() for _ in range(20 - sent)]
            clock.now += 60.0  # a minute later the handler's share is back
            assert until(lambda: handler.messages_sent == sent + 1, 5.0)
        finally:
            logger.removeHandler(handler)
            handler.close()
        received = len(group.messages)
    assert sent == 10
    assert waits == [0.0] * 10
    assert received == 11
