"""Credentials never leak; redirects are not followed; only what can help is retried."""

from __future__ import annotations

import logging
import traceback

import pytest

from dingnotify import (
    ConnectionFailedError,
    DingNotifyError,
    DingTalkError,
    Governor,
    HTTPStatusError,
    Quota,
    RedirectError,
    ResponseDecodeError,
    RetryPolicy,
    ValidationError,
)
from dingnotify.testing import MockRequest, MockResponse
from dingnotify.webhook import Text, WebhookRejectedError, WebhookRobot
from dingnotify.webhook._errors import (
    WebhookBodyTooLargeError,
    WebhookParameterError,
    WebhookTokenNotFoundError,
)
from tests.conftest import Scripted, err
from tests.unit.webhook_fake import FakeWebhook, fake_webhook
from tests.unit.webhook_mock import FAST, SECRET, TOKEN, mock_robot, raw, script


def robot(url: str, **kw: object) -> WebhookRobot:
    """A robot on the default aiohttp transport (a real socket)."""
    return WebhookRobot(url, SECRET, retry=FAST, governor=Governor(Quota()),
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
    wire = script(err(errcode, errmsg))
    async with mock_robot(wire) as r:
        exc = await failure(r)
    assert type(exc) is cls and exc.errcode == errcode
    if reason is not None:
        assert exc.reason == reason  # type: ignore[attr-defined]
    assert len(wire.requests) == 1
    assert_clean(exc)


async def test_errmsg_echoing_the_credentials_is_redacted() -> None:
    wire = script(err(310000, f"sign not match, token={TOKEN} secret={SECRET}"))
    async with mock_robot(wire) as r:
        exc = await failure(r)
    assert_clean(exc)


async def test_5xx_is_retried_then_succeeds() -> None:
    wire = script(raw(502, b"bad gateway"), raw(503, b"unavailable"),
                  MockResponse(json={"errcode": 0, "errmsg": "ok"}))
    async with mock_robot(wire) as r:
        await r.send(Text(content="x"))
    assert len(wire.requests) == 3


async def test_transport_failures_are_bounded_and_clean() -> None:
    wire = script(raw(500, b"oops"))
    async with mock_robot(wire, retry=RetryPolicy(max_attempts=3, base_delay=0.001)) as r:
        exc = await failure(r)
        assert isinstance(exc, HTTPStatusError) and exc.status == 500
        assert len(wire.requests) == 3
        assert_clean(exc)


async def test_bad_bodies_and_refused_connections_are_clean() -> None:
    async with mock_robot(script(raw(200, b"<html>not json</html>"))) as r:
        exc = await failure(r)
        assert isinstance(exc, ResponseDecodeError)
        assert_clean(exc)
    async with fake_webhook() as fake:
        port = fake.port
    async with robot(f"http://127.0.0.1:{port}/robot/send?access_token={TOKEN}") as r:
        exc = await failure(r)  # the server is gone: connection refused (aiohttp's text)
    assert isinstance(exc, ConnectionFailedError)
    assert_clean(exc)


async def test_a_302_is_refused_without_following() -> None:
    wire = script(raw(302, Location="https://elsewhere.example/robot/send"))
    async with mock_robot(wire) as r:
        exc = await failure(r)
    assert isinstance(exc, RedirectError) and exc.status == 302 and not exc.retryable
    assert "redirects are never followed" in str(exc)
    assert [r.url.host for r in wire.requests] == ["oapi.example"]
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
    wire = script(err(130101, "send too fast"), MockResponse(json={"errcode": 0}))
    async with mock_robot(wire) as r:
        await r.send(Text(content="x"))
        shown = [repr(r), repr(r._creds), repr(vars(r)), repr(r._api.family),
                 repr(vars(r._api)), *(repr(q) for q in wire.requests)]
        assert not [s for s in shown if TOKEN in s or SECRET in s]
    assert "throttled" in caplog.text
    assert TOKEN not in caplog.text and SECRET not in caplog.text


async def test_a_failure_inside_the_transport_leaks_nothing() -> None:
    def explode(request: MockRequest) -> MockResponse:
        raise ConnectionError(f"reset while sending to {request.url}")

    async with mock_robot(Scripted().route("/robot/send", explode)) as r:
        exc = await failure(r)
    assert isinstance(exc, ConnectionFailedError)
    assert_clean(exc)


def test_fake_server_url_holds_the_token() -> None:  # guards the tests above
    assert TOKEN in FakeWebhook(port=1).url
