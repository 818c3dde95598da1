"""The webhook family sits with the others below the channels: its error map, signature and
answers, and the wall that keeps it from importing any channel."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dingnotify._api
import dingnotify.webhook as webhook
from dingnotify import IPBannedError, RedirectError, ResponseDecodeError, ServerError
from dingnotify._api import Call
from dingnotify._api import webhook_errors as errors
from dingnotify._api.webhook import WebhookFamily, budget_key
from dingnotify._api.webhook_signing import Credentials
from dingnotify.testing import MockResponse
from tests.unit.webhook_mock import SECRET, TOKEN, URL

API = Path(dingnotify._api.__file__).parent
CHANNELS = {"webhook", "work_notice", "robot", "cards", "users", "media", "impaas", "top",
            "broadcast", "cli", "relay", "stream", "resources", "lyservice", "crossdomain"}


def test_the_family_layer_imports_no_channel() -> None:
    offenders = []
    for module in sorted(API.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                name = node.module or ""
                top = name.split(".")[1 if name.startswith("dingnotify.") else 0]
                if (node.level >= 2 or name.startswith("dingnotify.")) and top in CHANNELS:
                    offenders.append(f"{module.name}:{node.lineno}")
    assert not offenders


def test_the_channel_re_exports_the_familys_errors() -> None:
    for name in ("WebhookRejectedError", "WebhookRateLimitedError", "WebhookTokenNotFoundError",
                 "WebhookParameterError", "WebhookBodyTooLargeError",
                 "WebhookMessageTooLargeError"):
        assert getattr(webhook, name) is getattr(errors, name)
    assert webhook.sign is dingnotify._api.webhook_signing.sign


def family() -> tuple[WebhookFamily, Credentials]:
    creds = Credentials.parse(URL, SECRET)
    assert isinstance(creds, Credentials)
    return WebhookFamily(creds, clock=lambda: 1_700_000_000.0), creds


@pytest.mark.parametrize(("answer", "cls"), [
    (MockResponse(302, headers={"Location": "https://elsewhere"}), RedirectError),
    (MockResponse(502, content=b"bad gateway"), ServerError),
    (MockResponse(200, content=b"<html>"), ResponseDecodeError),
    (MockResponse(json={"ok": True}), ResponseDecodeError),  # no errcode: not a delivery
    (MockResponse(json={"status": 1111, "wait": 5, "punish": "deny"}), IPBannedError),
    (MockResponse(json={"errcode": 130101, "errmsg": "send too fast"}),
     errors.WebhookRateLimitedError),
    (MockResponse(json={"errcode": 310000, "errmsg": f"sign not match {TOKEN}"}),
     errors.WebhookRejectedError),
])
def test_outcomes(answer: MockResponse, cls: type[Exception]) -> None:
    fam, creds = family()
    call = Call("POST", "/robot/send", lambda a: "sent", body=b"{}", api=budget_key(creds))
    request = fam.request(call, None, 5.0)
    outcome = fam.outcome(answer, request, call, ())
    assert type(outcome) is cls
    assert TOKEN not in str(outcome) and SECRET not in str(outcome)
    assert TOKEN not in repr(request) and TOKEN not in budget_key(creds)


def test_a_rate_limit_answer_closes_the_robot_for_a_window() -> None:
    error = errors.webhook_error_for(130101, "send too fast")
    assert isinstance(error, errors.WebhookRateLimitedError)
    assert error.retryable and error.pause == 60.0


def test_success_is_the_calls_value_and_each_attempt_is_signed_afresh() -> None:
    stamps = iter([1.0, 2.0])
    creds = Credentials.parse(URL, SECRET)
    assert isinstance(creds, Credentials)
    fam = WebhookFamily(creds, clock=lambda: next(stamps))
    call = Call("POST", "/robot/send", lambda a: "sent", body=b"{}")
    first, second = fam.request(call, None, 5.0), fam.request(call, None, 5.0)
    assert first.url.query["timestamp"] == "1000" and second.url.query["timestamp"] == "2000"
    assert first.url.query["sign"] != second.url.query["sign"]
    assert first.headers["Content-Type"].startswith("application/json")
    assert fam.outcome(MockResponse(json={"errcode": 0}), first, call, ()) == "sent"
