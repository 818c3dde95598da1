"""Secrets across failure paths (issue 8): with DEBUG logging captured, neither the app secret
nor any access token the emulator issued shows up in a log record, an exception's str/repr,
its context chain or a formatted traceback. TLS verification is on by default."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable

import pytest

from dingnotify import AiohttpTransport, DingNotifyError, DingTalkClient, RetryPolicy, Text
from dingnotify.broadcast import BroadcastEvent
from dingnotify.testing import Emulator, Fault, FaultPlan, ManualClock

SEND = "/topapi/message/corpconversation/asyncsend_v2"
FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
FAULTS = ["http_500", "http_502", "http_503", "drop", "errcode_-1", "errcode_90018",
          "html_error", "garbage", "errcode_40014"]


def chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def exposed(exc: BaseException) -> str:
    """Everything a logger, error tracker or developer could be shown about ``exc``."""
    parts = ["".join(traceback.format_exception(exc))]
    for link in chain(exc):
        parts += [str(link), repr(link), repr(getattr(link, "args", ""))]
    return "\n".join(parts)


async def test_no_secret_or_token_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="dingnotify")
    clock = ManualClock()
    texts: list[str] = []
    errors: list[BaseException] = []

    async def expect_failure(call: Callable[[], Awaitable[object]]) -> None:
        try:
            await call()
        except DingNotifyError as exc:
            errors.append(exc)
        else:  # pragma: no cover - the scenario is built to fail
            raise AssertionError("expected a failure")

    async with Emulator(clock=clock) as emu:
        app = emu.app
        secret = app.app_secret

        def client(**kw: object) -> DingTalkClient:
            args: dict[str, object] = {"retry": FAST, "clock": clock, "timeout": 0.3, **kw}
            return DingTalkClient(app.app_key, str(args.pop("secret", secret)),
                                  agent_id=app.agent_id, base_url=emu.url,
                                  **args)  # type: ignore[arg-type]

        async with client(secret=secret + "-wrong") as bad:
            await expect_failure(lambda: bad.get_access_token())
            texts.append(repr(bad))
        async with client() as good:
            texts += [repr(good), repr(good._tokens), repr(good.retry)]
            for kind in FAULTS:
                emu.faults = FaultPlan(rules=[Fault(path=SEND, kind=kind)])
                await expect_failure(lambda k=kind: good.work_notice.send(  # type: ignore[misc]
                    Text(content=k), userids=["u000001"]))
                emu.faults = FaultPlan(rules=[Fault(path="/gettoken", kind=kind)])
                emu.revoke_tokens()
                await expect_failure(lambda: good.users.get_by_mobile("13800000001"))
                emu.faults = None
            emu.faults = FaultPlan(rules=[Fault(path=SEND, kind="delay", delay=0.6)])
            await expect_failure(lambda: good.work_notice.send(Text(content="slow"),
                                                               userids=["u000002"]))
            emu.faults = FaultPlan(rules=[Fault(path=SEND, kind="revoke_token")])
            await expect_failure(lambda: good.work_notice.send(Text(content="rv"),
                                                               userids=["u000002"]))
            emu.faults = FaultPlan(seed=5, rules=[Fault(path=SEND, kind="http_503",
                                                        probability=0.5)])
            events: list[BroadcastEvent] = []
            report = await good.work_notice.broadcast(
                Text(content="b"), userids=[f"u{i:06d}" for i in range(1, 201)],
                on_event=events.append, retry=RetryPolicy.none())
            texts += [repr(report), *(repr(b) for b in report.batches)]
            errors += [e.error for e in events if e.error is not None]
            clock.advance(7200)
            emu.faults = None
            await good.work_notice.send(Text(content="fresh"), userids=["u000003"])

        tokens = {r.query["access_token"] for r in emu.requests if "access_token" in r.query}
        tokens |= {r.response["access_token"] for r in emu.requests
                   if r.path == "/gettoken" and isinstance(r.response, dict)
                   and r.response.get("access_token")}

    assert len(tokens) >= 3 and emu.tokens_issued >= 3
    assert len(errors) >= 2 * len(FAULTS) + 3
    texts += [exposed(e) for e in errors]
    texts += [r.getMessage() for r in caplog.records]
    texts += [caplog.text]
    assert any("access_token=***" in t for t in texts)  # the URLs are there, redacted
    for text in texts:
        assert secret not in text
        for token in tokens:
            assert token not in text, f"token leaked: {text[:300]}"


async def test_tls_verification_is_on_by_default() -> None:
    async with DingTalkClient("key", "secret") as client:
        transport = client._http.transport
        assert isinstance(transport, AiohttpTransport) and transport._options.ssl is True
        connector = transport.session.connector
        assert connector is not None and connector._ssl is True  # type: ignore[attr-defined]
        assert client.base_url.startswith("https://")
