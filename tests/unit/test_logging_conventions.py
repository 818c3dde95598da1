"""Logging conventions: every logger the package creates has a public name, and each HTTP
exchange is one DEBUG record (method, redacted URL, status, latency) that shows no secret."""

from __future__ import annotations

import ast
import importlib
import logging
import pkgutil
import re
from pathlib import Path

import pytest

import dingnotify
from dingnotify import Text
from tests.conftest import APP_SECRET, SEND, TOKEN, Scripted, client_with, ok

PACKAGE = Path(dingnotify.__file__).parent
LOGGERS = {"dingnotify", "dingnotify.broadcast", "dingnotify.cards", "dingnotify.redis",
           "dingnotify.relay", "dingnotify.stream", "dingnotify.testing", "dingnotify.webhook"}


def _logger_names_in_source() -> dict[str, set[str]]:
    """Every ``getLogger(...)`` argument in the package, by file."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
                    and getattr(node.func, "attr", getattr(node.func, "id", "")) == "getLogger"):
                arg = node.args[0] if node.args else None
                name = arg.value if isinstance(arg, ast.Constant) else ast.unparse(arg or node)
                found.setdefault(str(name), set()).add(str(path.relative_to(PACKAGE)))
    return found


def test_every_logger_has_a_public_name() -> None:
    found = _logger_names_in_source()
    assert set(found) == LOGGERS, found  # `__name__` would name a private module
    for name in LOGGERS:
        assert not any(part.startswith("_") for part in name.split("."))
        importlib.import_module(name)  # a package users can find and configure


def test_no_private_logger_exists_after_importing_everything() -> None:
    for module in pkgutil.walk_packages(dingnotify.__path__, "dingnotify."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    created = {name for name in logging.Logger.manager.loggerDict
               if name == "dingnotify" or name.startswith("dingnotify.")}
    assert created <= LOGGERS, created - LOGGERS


async def test_each_exchange_logs_method_redacted_url_status_and_latency(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dingnotify")
    wire = Scripted().route(SEND, ok(task_id=7))
    async with client_with(wire) as client:
        assert await client.work_notice.send(Text(content="hi"), userids=["u1"]) == 7
    exchanges = [r.getMessage() for r in caplog.records
                 if r.name == "dingnotify" and " -> " in r.getMessage()]
    assert len(exchanges) == 2, exchanges  # /gettoken, then the send
    pattern = r"(GET|POST) https://oapi\.test/\S+ -> 200 in \d+\.\d ms"
    assert all(re.fullmatch(pattern, line) for line in exchanges), exchanges
    assert "appsecret=***" in exchanges[0] and "access_token=***" in exchanges[1]
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert APP_SECRET not in text and TOKEN not in text


async def test_a_failed_exchange_logs_the_error_and_no_secret(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dingnotify")
    wire = Scripted().route(SEND, ConnectionResetError("reset"))
    async with client_with(wire, retry=dingnotify.RetryPolicy.none()) as client:
        with pytest.raises(dingnotify.ConnectionFailedError):
            await client.work_notice.send(Text(content="hi"), userids=["u1"])
    failed = [r.getMessage() for r in caplog.records if "ConnectionFailedError after" in
              r.getMessage()]
    assert len(failed) == 1 and failed[0].startswith("POST https://oapi.test/topapi/")
    assert APP_SECRET not in caplog.text and TOKEN not in caplog.text
