"""A robot on ``MockTransport`` with a budget on a fake clock: the webhook unit tests' HTTP."""

from __future__ import annotations

from typing import Any

from dingnotify import Governor, Quota, RetryPolicy
from dingnotify.testing import MockResponse, MockTransport
from dingnotify.webhook import WebhookRobot
from tests.conftest import Answer, Scripted, ok
from tests.unit.webhook_fake import SECRET, TOKEN, FakeTime

__all__ = ["FAST", "PATH", "SECRET", "TOKEN", "URL", "FakeTime", "mock_robot", "ok", "script"]

PATH = "/robot/send"
URL = f"https://oapi.example{PATH}?access_token={TOKEN}"
# Quick retries without jitter (130101 too: max_delay caps its one-second floor).
FAST = RetryPolicy(base_delay=0.001, max_delay=0.001, jitter=False, rate_limit_attempts=3)


def script(*answers: Answer) -> Scripted:
    """``/robot/send`` answers, in order (the last repeats); success by default."""
    return Scripted().route(PATH, *(answers or (ok(),)))


def raw(status: int, content: bytes = b"", **headers: str) -> MockResponse:
    return MockResponse(status, content=content, headers=headers)


def mock_robot(wire: Scripted, secret: str | None = SECRET, *, time: FakeTime | None = None,
               **kw: Any) -> WebhookRobot:
    """A robot on ``wire`` (unless ``transport=`` is given), its budget of 20 a minute in a
    fresh governor on ``time``."""
    time = time if time is not None else FakeTime()
    kw.setdefault("retry", FAST)
    kw.setdefault("governor", Governor(Quota(), clock=time, sleep=time.sleep))
    kw.setdefault("transport", MockTransport(wire))
    return WebhookRobot(URL, secret, **kw)
