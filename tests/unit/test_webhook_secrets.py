"""Credentials never leak; redirects are not followed; only what can help is retried."""

from __future__ import annotations

import logging
import traceback

import pytest

from dingnotify import (
    ConnectionFailedError,
    DingNotifyError,
    DingTalkError,
    HTTPStatusError,
    ResponseDecodeError,
    ValidationError,
)
from dingnotify.webhook import Text, WebhookRejectedError, WebhookRobot
from dingnotify.webhook._errors import (
    WebhookBodyTooLargeError,
    WebhookParameterError,
    WebhookTokenNotFoundError,
)
from dingnotify.webhook._pacing import SlidingWindowLimiter
from tests.unit.webhook_fake import SECRET, TOKEN, FakeWebhook, fake_webhook


def robot(url: str, **kw: object) -> WebhookRobot:
    return WebhookRobot(url, SECRET, limiter=SlidingWindowLimiter(), retry_delay=0.001,
                        **kw)  # type: ignore[arg-type]


async def failure(r: WebhookRobot) -> DingNotifyError:
    """Send and return the error; this frame holds no credentials (only the robot)."""
    try:
        await r.send(Text(content="hello"))
    except DingNotifyError as exc:
        return exc
    raise AssertionError("the send succeeded")


def leaks(exc: BaseException) -> list[str]:
    shown = "".join(traceback.TracebackException.from_exception(
        exc, capture_locals=True).format())
    shown += repr(exc) + str(exc)
    return [s for s in (TOKEN, SECRET) if s in shown]


def assert_clean(exc: BaseException) -> None:
    assert exc.__cause__ is None and exc.__context__ is None
    assert leaks(exc) == []


@pytest.mark.parametrize(("errcode", "errmsg", "cls", "reason"), [
    (310000, "sign not match", WebhookRejectedError, "signature"),
    (310000, "timestamp invalid", WebhookRejectedError, "timestamp"),
    (310000, "keywords not in content", WebhookRejectedError, "keywords"),
    (310000, "ip 10.1.2.3 not in whitelist", WebhookRejectedError, "ip"),
    (310000, "something else", WebhookRejectedError, "unknown"),
    (300005, "token is not exist", WebhookTokenNotFoundError, None),
    (400402, "param missing", WebhookParameterError, None),
    (460101, "message too long", WebhookBodyTooLargeError, None),
])
async def test_typed_errors_are_never_retried(errcode: int, errmsg: str,
                                              cls: type[DingTalkError], reason: str) -> None:
    async with fake_webhook() as fake, robot(fake.url) as r:
        fake.answer(payload={"errcode": errcode, "errmsg": errmsg})
        exc = await failure(r)
    assert type(exc) is cls and exc.errcode == errcode
    if reason is not None:
        assert exc.reason == reason  # type: ignore[attr-defined]
    assert len(fake.seen) == 1
    assert_clean(exc)


async def test_errmsg_echoing_the_credentials_is_redacted() -> None:
    async with fake_webhook() as fake, robot(fake.url) as r:
        fake.answer(payload={"errcode": 310000,
                             "errmsg": f"sign not match, token={TOKEN} secret={SECRET}"})
        exc = await failure(r)
    assert_clean(exc)




async def test_5xx_is_retried_then_succeeds() -> None:
    async with fake_webhook() as fake, robot(fake.url) as r:
        fake.answer(502, b"bad gateway")
        fake.answer(503, b"unavailable")
        await r.send(Text(content="x"))
    assert len(fake.seen) == 3


async def test_transport_failures_are_bounded_and_clean() -> None:
    async with fake_webhook() as fake, robot(fake.url, max_retries=2) as r:
        for _ in range(3):
            fake.answer(500, b"oops")
        exc = await failure(r)
        assert isinstance(exc, HTTPStatusError) and exc.status == 500
        assert len(fake.seen) == 3
        assert_clean(exc)


async def test_bad_bodies_and_refused_connections_are_clean() -> None:
    async with fake_webhook() as fake, robot(fake.url, max_retries=2) as r:
        fake.answer(200, b"<html>not json</html>")
        exc = await failure(r)
        assert isinstance(exc, ResponseDecodeError)
        assert_clean(exc)
        port = fake.port
    async with robot(f"http://127.0.0.1:{port}/robot/send?access_token={TOKEN}") as r:
        exc = await failure(r)  # the server is gone: connection refused
    assert isinstance(exc, ConnectionFailedError)
    assert_clean(exc)


async def test_redirect_is_an_error_and_never_followed() -> None:
    async with fake_webhook("127.0.0.2") as elsewhere, fake_webhook() as fake:
        fake.answer(302, b"", Location=elsewhere.url)
        async with robot(fake.url) as r:
            exc = await failure(r)
    assert isinstance(exc, HTTPStatusError) and exc.status == 302
    assert not exc.retryable
    assert len(fake.seen) == 1
    assert elsewhere.seen == []
    assert_clean(exc)


def test_bad_url_error_holds_no_secret() -> None:
    def build() -> BaseException:
        try:
            WebhookRobot("ftp://x/robot/send?access_token=" + TOKEN, SECRET)
        except ValidationError as exc:
            return exc
        raise AssertionError("accepted")

    assert leaks(build()) == []


async def test_reprs_and_logs_hide_credentials(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with fake_webhook() as fake, robot(fake.url) as r:
        fake.answer(payload={"errcode": 130101, "errmsg": "send too fast"})
        r.limiter.sleep = _no_wait
        await r.send(Text(content="x"))
        assert TOKEN not in repr(r) and SECRET not in repr(r)
        assert TOKEN not in repr(r._creds) and SECRET not in repr(r._creds)
        assert TOKEN not in repr(vars(r)) and SECRET not in repr(vars(r))
    assert "throttled" in caplog.text
    assert TOKEN not in caplog.text and SECRET not in caplog.text


async def _no_wait(seconds: float) -> None:
    return None


def test_fake_server_url_holds_the_token() -> None:  # guards the tests above
    assert TOKEN in FakeWebhook(port=1).url
