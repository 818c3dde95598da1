"""WebhookHandler tells stderr when it drops records, once per burst, as ``handleError``
does (and not at all when ``logging.raiseExceptions`` is off)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from dingnotify.webhook import WebhookHandler
from tests.cli_e2e.conftest import ThreadedEmulator
from tests.integration.test_webhook_handler_hardening import Clock, closed_window, until

TOKEN = "robotDROPS0123456789abcdef"
REPORT = "WebhookHandler is dropping log records: its queue of 3 records is full"


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("tests.webhook.drops")
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


def capture_stderr(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """In the test body: pytest's own capture swaps ``sys.stderr`` between phases."""
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured)
    return captured


def test_a_full_queue_is_reported_once_per_burst(logger: logging.Logger,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = capture_stderr(monkeypatch)
    clock = Clock()
    with ThreadedEmulator() as emu:
        group = emu.add_webhook_robot(TOKEN)
        handler = WebhookHandler(emu.webhook_url(TOKEN), capacity=3,
                                 limiter=closed_window(clock))
        logger.addHandler(handler)
        try:
            for i in range(20):  # the window is shut: the queue fills, then drops
                logger.error("first burst %d", i)
            assert stderr.getvalue().count(REPORT) == 1
            assert "--- Logging error ---" in stderr.getvalue()  # handleError's own report
            first = handler.dropped
            assert first >= 14
            clock.now += 61  # the window opens: one message takes what waited
            assert until(lambda: handler.messages_sent == 1)
            for i in range(20):  # the window is shut again: a second burst
                logger.error("second burst %d", i)
            assert stderr.getvalue().count(REPORT) == 2
        finally:
            logger.removeHandler(handler)
            handler.close()
    assert "dropped" in group.messages[0]["text"]["content"]  # the group is told too


def test_drops_are_silent_without_raise_exceptions(logger: logging.Logger,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = capture_stderr(monkeypatch)
    monkeypatch.setattr(logging, "raiseExceptions", False)
    handler = WebhookHandler(f"http://127.0.0.1:9/robot/send?access_token={TOKEN}",
                             capacity=3, flush_timeout=0.3, limiter=closed_window(Clock()))
    logger.addHandler(handler)
    try:
        for i in range(10):
            logger.error("dropped %d", i)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert handler.dropped == 10 and stderr.getvalue() == ""
