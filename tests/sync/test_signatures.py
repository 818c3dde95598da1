"""The sync API cannot drift from the async one: every public async method and resource
is declared on its proxy, from the async function itself, and mypy --strict reads the
declarations as the async signatures without ``async``."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import dingnotify
import dingnotify.sync
from dingnotify.sync._proxy import AsyncOnly, BlockingMethod, Proxy, Resource, SyncClient
from dingnotify.testing import MockTransport

LIFECYCLE = {"aclose", "close"}
URL = "https://oapi.dingtalk.com/robot/send?access_token=abc"


def _clients() -> list[tuple[type[SyncClient[Any]], object]]:
    transport = MockTransport(lambda request: None)  # type: ignore[arg-type,return-value]
    return [
        (dingnotify.sync.DingTalkClient,
         dingnotify.DingTalkClient("k", "s", agent_id=1, transport=transport)),
        (dingnotify.sync.TopClient, dingnotify.TopClient("k", "s", transport=transport)),
        (dingnotify.sync.WebhookRobot,
         dingnotify.webhook.WebhookRobot(URL, transport=transport)),
    ]


def _public_methods(cls: type) -> dict[str, Any]:
    return {name: member for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and name not in LIFECYCLE}


def _is_resource(value: object) -> bool:
    return type(value).__module__.startswith("dingnotify.") and any(
        inspect.iscoroutinefunction(f) for f in _public_methods(type(value)).values())


def _pairs() -> list[tuple[str, type[Proxy], object]]:
    """(dotted path, sync proxy class, async object) for every client and its resources."""
    found: list[tuple[str, type[Proxy], object]] = []

    def walk(path: str, proxy: type[Proxy], target: object) -> None:
        found.append((path, proxy, target))
        for name, value in vars(target).items():
            if name.startswith("_") or not _is_resource(value) or name in proxy.__annotations__:
                continue
            declared = inspect.getattr_static(proxy, name, None)
            assert isinstance(declared, Resource), (
                f"{path}.{name} is a resource of the async client: declare "
                f"`{name} = Resource(<a Proxy subclass>)` on dingnotify.sync.{proxy.__name__}")
            walk(f"{path}.{name}", declared.proxy, value)

    for sync_cls, target in _clients():
        walk(sync_cls.__name__, sync_cls, target)
    return found


def test_every_async_method_is_declared_from_the_async_function() -> None:
    missing = []
    for path, proxy, target in _pairs():
        for name, function in _public_methods(type(target)).items():
            declared = inspect.getattr_static(proxy, name, None)
            kind = "blocking" if inspect.iscoroutinefunction(function) else "plain"
            if isinstance(declared, AsyncOnly) and declared.function is function:
                continue
            if not (isinstance(declared, BlockingMethod) and declared.function is function):
                missing.append(f"{path}.{name}: add `{name} = {kind}("
                               f"{type(target).__name__}.{name})`")
    assert missing == []


def test_declared_attributes_exist_on_the_async_side() -> None:
    for path, proxy, target in _pairs():
        for name in proxy.__annotations__:
            assert hasattr(target, name), f"{path}.{name} is not an attribute of the async side"


def test_constructors_and_bound_methods_have_the_async_signatures() -> None:
    for sync_cls, target in _clients():
        assert inspect.signature(sync_cls) == inspect.signature(type(target))
    with dingnotify.sync.DingTalkClient("k", "s", transport=MockTransport(
            lambda request: None)) as client:  # type: ignore[arg-type,return-value]
        for name in ("send", "broadcast", "deliver", "wait"):
            assert (inspect.signature(getattr(client.work_notice, name))
                    == inspect.signature(getattr(client.async_client.work_notice, name)))
            assert getattr(client.work_notice, name).__doc__


USER_CODE = """
from dingnotify import BroadcastReport, Markdown, RetryPolicy, SendResult, Text
from dingnotify.robot import RobotSendResult, SampleText
from dingnotify.sync import DingTalkClient, TopClient, WebhookRobot
from dingnotify.webhook import Text as WebhookText

with DingTalkClient("key", "secret", agent_id=1, timeout=5.0) as client:
    task_id: int = client.work_notice.send(Markdown(title="t", text="x"), userids=["u1"],
                                           retry=RetryPolicy.none())
    report: BroadcastReport[int] = client.work_notice.broadcast(
        Text(content="x"), userids=iter(["u1"]), concurrency=4)
    result: SendResult = client.work_notice.wait(report, timeout=60)
    sent: RobotSendResult = client.robot.send(SampleText(content="x"), userids=["u1"])
    answer: dict[str, object] = client.call("/topapi/x", json={})
    refreshes: int = client.token_refreshes
with WebhookRobot("https://oapi.dingtalk.com/robot/send?access_token=x") as robot:
    parts: int = robot.send(WebhookText(content="x"), at_mobiles=["1"], split=True)
top = TopClient("key", "secret", sign_method="md5")
body: dict[str, object] = top.execute("a.b.c", {"x": 1})
top.close()
"""

WRONG = {
    'DingTalkClient("key", agent_id=1)': 'Missing positional argument "app_secret"',
    'DingTalkClient("k", "s", agent_id="1")': 'Argument "agent_id"',
    'DingTalkClient("k", "s").work_notice.send(Text(content="x"), userids="u1")':
        'Argument "userids"',
    'name: str = DingTalkClient("k", "s").work_notice.send(Text(content="x"), userids=[])':
        "Incompatible types in assignment",
    'DingTalkClient("k", "s").work_notice.sendd()': 'has no attribute "sendd"',
    'WebhookRobot("u").send(Text(content="x"), at_all="yes")': 'Argument "at_all"',
}


def test_mypy_strict_reads_the_sync_client_as_the_async_one(tmp_path: Path) -> None:
    pytest.importorskip("mypy")  # the lint group (not in the floors' venv)
    good = tmp_path / "good.py"
    good.write_text(USER_CODE)
    bad = tmp_path / "bad.py"
    lines = ["from dingnotify import Text",
             "from dingnotify.sync import DingTalkClient, WebhookRobot"]
    bad.write_text("\n".join([*lines, *WRONG]) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
         os.devnull, str(good), str(bad)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(Path(dingnotify.__file__).parents[1])})
    report = done.stdout
    assert f"{good.name}:" not in report, report
    for number, expected in enumerate(WRONG.values(), start=len(lines) + 1):
        assert any(line.startswith(f"{bad.name}:{number}:") and expected in line
                   for line in report.splitlines()), textwrap.indent(report, "  ")


def test_async_only_methods_say_how_to_do_it_instead() -> None:
    from dingnotify.sync import DingTalkClient

    with DingTalkClient("key", "secret", agent_id=1) as client:
        with pytest.raises(TypeError, match=r"async-only.*StreamClient"):
            client.stream()
        with pytest.raises(TypeError, match=r"async-only.*cards\.streaming"):
            client.cards.streaming("card-1")
