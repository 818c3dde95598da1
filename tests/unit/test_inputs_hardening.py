"""Inputs (issue 25, items 12-13): mobiles normalised, a webhook URL with a password refused,
a malformed Redis URL refused without its password anywhere, ``split=True`` capped."""

from __future__ import annotations

import traceback
from types import TracebackType

import pytest

from dingnotify import ValidationError
from dingnotify.redis import RedisCoordination
from dingnotify.users import check_mobile
from dingnotify.webhook import DEFAULT_MAX_PARTS, Markdown, Text, WebhookRobot
from dingnotify.webhook._signing import Credentials
from tests.unit.webhook_mock import mock_robot, script


@pytest.mark.parametrize(("written", "looked_up"), [
    ("+86 138 0000 0001", "13800000001"),
    ("+8613800000002", "13800000002"),
    ("138-0000-0003", "13800000003"),
    (" 0086 138 0000 0004 ", "13800000004"),
    ("+86-138-0000-0005", "13800000005"),
    ("13800000006", "13800000006"),
    ("+852-5555 0000", "+852-55550000"),
    ("+85255550000", "+85255550000"),
])
def test_mobiles_are_normalised(written: str, looked_up: str) -> None:
    assert check_mobile(written) == looked_up


@pytest.mark.parametrize("bad", ["", "  ", "abc", "+", "138+0000", "138 0000 0001x", "1" * 30])
def test_what_is_not_a_mobile_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        check_mobile(bad)


async def test_get_by_mobile_looks_up_the_normalised_number() -> None:
    from dingnotify import DingTalkClient
    from dingnotify.testing import Emulator

    async with Emulator() as emu, DingTalkClient(emu.app.app_key, emu.app.app_secret,
                                                 base_url=emu.url) as client:
        assert await client.users.get_by_mobile("+86 138 0000 0001") == "u000001"
        assert await client.users.get_by_mobile("138-0000-0003") == "u000003"
        lookup = await client.users.get_by_mobile_v2("+8613800000002")
        assert lookup.userid == "u000002"


def _everything_shown(exc: BaseException) -> str:
    """Message, repr, chain, formatted traceback and every frame local of the traceback."""
    parts = ["".join(traceback.format_exception(exc)), str(exc), repr(exc), repr(exc.args)]
    link: BaseException | None = exc
    while link is not None:
        parts.append(repr(link))
        tb: TracebackType | None = link.__traceback__
        while tb is not None:
            parts += [repr(v) for v in tb.tb_frame.f_locals.values() if v is not None]
            tb = tb.tb_next
        link = link.__cause__ or link.__context__
    return "\n".join(parts)


@pytest.mark.parametrize("url", [
    "redis://:hunter2/x@localhost:6379/0",   # a "/" in the password: it reads as a port
    "redis://user:hunter2@localhost:notaport/0",
    "redis://:hunter2@[::1/0",
    "http://:hunter2@localhost/0",
    "hunter2",
    "redis://:hunter2@localhost:99999/0",
])
def test_a_malformed_redis_url_never_shows_its_password(url: str) -> None:
    def build() -> None:
        RedisCoordination.from_url(url.replace("hunter2", "s3cr3t-" + "hunter2"))

    with pytest.raises(ValidationError) as caught:
        build()
    exc = caught.value
    assert exc.__cause__ is None and exc.__context__ is None
    assert "Redis URL" in str(exc)
    shown = _everything_shown(exc).replace(repr(url), "")  # the test's own frame holds url
    assert "s3cr3t-hunter2" not in shown


@pytest.mark.parametrize("url", ["https://bob:hunter2@oapi.dingtalk.com/robot/send?access_token=t",
                                 "https://:hunter2@oapi.dingtalk.com/robot/send?access_token=t",
                                 "https://hunter2@oapi.dingtalk.com/robot/send?access_token=t"])
def test_a_webhook_url_with_userinfo_is_refused_without_showing_it(url: str) -> None:
    assert isinstance(Credentials.parse(url, None), str)
    with pytest.raises(ValidationError) as caught:
        WebhookRobot(url)
    assert "user name or password" in str(caught.value)
    assert "hunter2" not in "".join(traceback.format_exception(caught.value))


async def test_split_is_capped_before_anything_is_sent() -> None:
    wire = script()
    text = "\n".join(f"line {i} " + "x" * 80 for i in range(3000))  # ~260 KB: 14 parts
    async with mock_robot(wire) as robot:
        assert DEFAULT_MAX_PARTS == 10
        with pytest.raises(ValidationError, match="over max_parts=10"):
            await robot.send(Markdown(title="Log", text=text), split=True)
        with pytest.raises(ValidationError, match="over max_parts=3"):
            await robot.send(Text(content=text), split=True, max_parts=3)
        with pytest.raises(ValidationError, match="max_parts must be"):
            await robot.send(Text(content="short"), max_parts=0)
        assert wire.requests == []
        assert await robot.send(Text(content=text), split=True, max_parts=20) > 10
        assert len(wire.requests) > 10
