"""WebhookRobot, WebhookHandler and the CLI against the emulator's group robots."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dingnotify import Governor, Quota
from dingnotify.testing import Emulator, ManualClock
from dingnotify.webhook import (
    Markdown,
    SlidingWindowLimiter,
    Text,
    WebhookHandler,
    WebhookRejectedError,
    WebhookRobot,
)
from tests.cli_e2e.conftest import ThreadedEmulator

TOKEN = "robotTOKEN0123456789abcdef"
SECRET = "SECrobot0123456789abcdefghij"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())


@pytest.fixture
async def emu(clock: ManualClock) -> AsyncIterator[Emulator]:
    async with Emulator(clock=clock) as e:
        yield e


def fast_governor(clock: ManualClock) -> Governor:
    """A governor on the emulator's clock, where waiting costs nothing: the robot gives it
    its real budget of 20 per 60 s."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)
        await asyncio.sleep(0)

    return Governor(Quota(), clock=clock, sleep=sleep)


def sends(emu: Emulator) -> list[int]:
    """The errcode of every /robot/send answer, in order."""
    return [r.response["errcode"] for r in emu.requests if r.path == "/robot/send"]


async def test_burst_of_25_is_delivered_in_order_without_130101(
        emu: Emulator, clock: ManualClock) -> None:
    group = emu.add_webhook_robot(TOKEN, secret=SECRET)
    async with WebhookRobot(emu.webhook_url(TOKEN), SECRET, governor=fast_governor(clock)) as r:
        for i in range(25):
            await r.send(Text(content=f"alert {i}"))
    assert [m["text"]["content"] for m in group.messages] == [f"alert {i}" for i in range(25)]
    assert sends(emu) == [0] * 25
    assert group.received_at[20] - group.received_at[0] >= 60.0  # the window slid first


async def test_130101_from_another_sender_backs_off_then_delivers(
        emu: Emulator, clock: ManualClock) -> None:
    group = emu.add_webhook_robot(TOKEN, secret=SECRET)
    async with WebhookRobot(emu.webhook_url(TOKEN), SECRET, governor=fast_governor(clock)) as r:
        for i in range(20):
            await r.send(Text(content=f"other process {i}"))
    async with WebhookRobot(emu.webhook_url(TOKEN), SECRET, governor=fast_governor(clock)) as r:
        await r.send(Text(content="mine"))
    assert sends(emu) == [0] * 20 + [130101, 0]
    assert group.messages[-1]["text"]["content"] == "mine"


@pytest.mark.parametrize(("secret", "keywords", "reason"), [
    ("SECwrong", (), "signature"),
    (SECRET, ("deploy",), "keywords"),
])
async def test_310000_is_not_retried(emu: Emulator, clock: ManualClock, secret: str,
                                     keywords: tuple[str, ...], reason: str) -> None:
    emu.add_webhook_robot(TOKEN, secret=SECRET, keywords=keywords)
    async with WebhookRobot(emu.webhook_url(TOKEN), secret, governor=fast_governor(clock)) as r:
        with pytest.raises(WebhookRejectedError) as caught:
            await r.send(Text(content="hello"))
    assert caught.value.reason == reason
    assert sends(emu) == [310000]


async def test_60k_markdown_arrives_as_ordered_parts(emu: Emulator, clock: ManualClock) -> None:
    group = emu.add_webhook_robot(TOKEN, secret=SECRET)
    lines = [f"{i:05d} | 服务 api-{i % 7} | latency {i % 997} ms | ok" for i in range(1600)]
    original = "\n".join(["```text", *lines, "```"])
    assert len(original.encode()) >= 60_000
    async with WebhookRobot(emu.webhook_url(TOKEN), SECRET, governor=fast_governor(clock)) as r:
        n = await r.send(Markdown(title="Daily", text=original), at_mobiles=["13800000001"],
                         split=True)
    bodies = [req.body for req in emu.requests if req.path == "/robot/send"]
    assert n == len(bodies) == len(group.messages) >= 3
    assert all(len(b) <= 20_000 for b in bodies)
    received: list[str] = []
    for index, message in enumerate(group.messages, 1):
        assert message["markdown"]["title"] == f"Daily ({index}/{n})"
        text = message["markdown"]["text"]
        if index == 1:  # the mention renders only where @mobile is in the text
            assert text.endswith("```\n\n@13800000001")
            text = text.removesuffix("\n\n@13800000001")
        marker, blank, *rest = text.split("\n")
        assert (marker, blank) == (f"({index}/{n})", "")
        assert rest[0] == "```text" and rest[-1] == "```"  # every part renders on its own
        received += rest[1:-1]
    assert received == lines
    assert group.messages[0]["at"] == {"atMobiles": ["13800000001"]}


# -- the CLI, end to end --------------------------------------------------------------------


def run_cli(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGNOTIFY_"))}
    clean.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "dingnotify.cli", "webhook", *args],
                          env=clean, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_cli_webhook_end_to_end(tmp_path: Path) -> None:
    with ThreadedEmulator() as emu:
        group = emu.add_webhook_robot(TOKEN, secret=SECRET)
        env = {"DINGTALK_WEBHOOK_URL": emu.webhook_url(TOKEN), "DINGTALK_WEBHOOK_SECRET": SECRET}
        done = run_cli(["--text", "build 42 failed", "--at-mobile", "13800000001"], **env)
        assert (done.returncode, done.stdout, done.stderr) == (0, "sent 1 message\n", "")
        report = tmp_path / "report.md"
        report.write_text("\n".join(f"- row {i} " + "x" * 60 for i in range(400)), "utf-8")
        done = run_cli(["--markdown", str(report), "--title", "Report", "--split"], **env)
        assert (done.returncode, done.stdout) == (0, "sent 2 messages\n")

        bad = run_cli(["--text", "x"], DINGTALK_WEBHOOK_URL=emu.webhook_url(TOKEN),
                      DINGTALK_WEBHOOK_SECRET="SECwrong")
        unknown = run_cli(["--url", emu.webhook_url("nope"), "--text", "x"])
        no_title = run_cli(["--markdown", str(report)], **env)
        too_big = run_cli(["--markdown", str(report), "--title", "R"], **env)
        both = run_cli(["--text", "x", "--markdown", str(report)], **env)
        bad_flag = run_cli(["--text", "x", "--request-timeout", "soon"], **env)
        messages = list(group.messages)
    assert messages[0] == {"msgtype": "text", "text": {"content": "build 42 failed @13800000001"},
                           "at": {"atMobiles": ["13800000001"]}}
    assert [m["markdown"]["title"] for m in messages[1:]] == ["Report (1/2)", "Report (2/2)"]
    assert (bad.returncode, unknown.returncode) == (3, 3)
    assert "WebhookRejectedError" in bad.stderr and "sign not match" in bad.stderr
    assert [d.returncode for d in (no_title, too_big, both, bad_flag)] == [2, 2, 2, 2]
    for done in (bad, unknown, no_title, too_big, both, bad_flag):
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert TOKEN not in done.stderr and SECRET not in done.stderr


# -- the logging handler under a storm ----------------------------------------------------


def test_handler_storm_stays_paced_and_loses_nothing_silently() -> None:
    """10,000 records with the minute compressed to 1 s.

    The emulator counts over 0.8 s: the slack absorbs scheduling jitter between the moment
    the handler's window allowed a send and the moment the request arrived.
    """
    with ThreadedEmulator() as emu:
        group = emu.add_webhook_robot(TOKEN, secret=SECRET, limit=20, period=0.8)
        handler = WebhookHandler(emu.webhook_url(TOKEN), SECRET, capacity=500,
                                 limiter=SlidingWindowLimiter(20, 1.0))
        logger = logging.getLogger("tests.webhook.storm")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            for i in range(10_000):
                logger.error("storm record %d", i)
                if i % 1000 == 999:
                    time.sleep(0.02)  # a storm over time, not one instant
        finally:
            logger.removeHandler(handler)
            handler.close()
        messages = [m["text"]["content"] for m in group.messages]
        answers = dict(group.answers)
        times = list(group.received_at)
    assert answers == {0: len(messages)}  # no 130101, nothing refused
    assert all(later - earlier >= 0.8 for earlier, later in zip(times, times[20:], strict=False))
    seen = [int(n) for text in messages for n in re.findall(r"storm record (\d+)", text)]
    reported = sum(int(n) for text in messages
                   for n in re.findall(r"\((\d+) more records dropped\)", text))
    assert len(seen) == len(set(seen))
    assert len(seen) + handler.dropped == 10_000
    assert reported == handler.dropped
    assert handler.messages_sent == len(messages)


def test_handler_aggregates_never_raises_and_never_logs_through_itself() -> None:
    with ThreadedEmulator() as emu:
        group = emu.add_webhook_robot(TOKEN, secret=SECRET)
        handler = WebhookHandler(emu.webhook_url(TOKEN), SECRET,
                                 limiter=SlidingWindowLimiter(1, 60.0))
        errors: list[logging.LogRecord] = []
        handler.handleError = errors.append  # type: ignore[method-assign]
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.DEBUG)  # the robot's and aiohttp's own records reach us too
        root.addHandler(handler)
        try:
            logging.getLogger("app").error("first")
            time.sleep(0.3)  # the first record goes alone; the window is then full
            for i in range(5):
                logging.getLogger("app").error("burst %d", i)
            isolated = logging.getLogger("tests.webhook.isolated")
            isolated.propagate = False  # pytest's own capture handler would raise
            isolated.addHandler(handler)
            isolated.error("bad %d format", "x")  # must not raise
            isolated.removeHandler(handler)
            logging.getLogger("app").warning("below the handler's level")
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
            handler.close()
        messages = [m["text"]["content"] for m in group.messages]
    assert len(messages) == 1 and "first" in messages[0]
    assert handler.dropped == 5  # the burst waited for a window that close() did not reach
    assert len(errors) == 1 and errors[0].msg == "bad %d format"


def test_handler_flushes_a_burst_as_one_message_on_close() -> None:
    with ThreadedEmulator() as emu:
        group = emu.add_webhook_robot(TOKEN)
        handler = WebhookHandler(emu.webhook_url(TOKEN), limiter=SlidingWindowLimiter(1, 0.3))
        logger = logging.getLogger("tests.webhook.flush")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            for i in range(50):
                logger.error("record %d", i)
        finally:
            logger.removeHandler(handler)
            handler.close()
        messages = [m["text"]["content"] for m in group.messages]
    assert 1 <= len(messages) <= 3
    joined = "\n".join(messages)
    assert all(f"record {i}" in joined for i in range(50))
    assert handler.dropped == 0
