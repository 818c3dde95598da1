"""Relay fixtures: a relay.toml in a temporary directory, and a relay on the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dingnotify import DingTalkClient, RetryPolicy
from dingnotify.relay import Relay, load_config
from dingnotify.testing import Emulator

TOKEN = "relay-bearer-T0KEN-0123456789"
HOOK_TOKEN = "hookTOKEN0123456789abcdef"
HOOK_SECRET = "SEChook0123456789abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, jitter=False)

CONFIG = """\
[relay]
queue = "relay.sqlite"
token_env = "RELAY_TOKEN"

[[token]]
env = "RELAY_LIMITED_TOKEN"
allow_recipients = { userids = ["u000001", "u000002"] }

[templates]
deploy = "deploy.md"

[[route]]
name = "db-oncall"
match = { team = "db", severity = "critical" }
work_notice = { userids = ["u000001", "u000002"], dept_ids = [] }

[[route]]
name = "ops-group"
match = { team = "ops" }
webhook = { url_env = "OPS_HOOK_URL", secret_env = "OPS_HOOK_SECRET" }

[[route]]
name = "everyone-else"
match = {}
work_notice = { userids = ["u000003"] }
"""

DEPLOY = "### Deploy {{ service }}\n{% for h in hosts %}- {{ h }}\n{% endfor %}"


def write_config(directory: Path, text: str = CONFIG) -> Path:
    (directory / "deploy.md").write_text(DEPLOY)
    path = directory / "relay.toml"
    path.write_text(text)
    return path


@pytest.fixture
def relay_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_TOKEN", TOKEN)
    monkeypatch.setenv("RELAY_LIMITED_TOKEN", "limited-T0KEN-abcdef")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as e:
        yield e


@pytest.fixture
async def relay(emu: Emulator, tmp_path: Path, relay_env: None,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Relay]:
    emu.add_webhook_robot(HOOK_TOKEN, secret=HOOK_SECRET)
    monkeypatch.setenv("OPS_HOOK_URL", emu.webhook_url(HOOK_TOKEN))
    monkeypatch.setenv("OPS_HOOK_SECRET", HOOK_SECRET)
    config = load_config(write_config(tmp_path))
    async with DingTalkClient(emu.app.app_key, emu.app.app_secret, agent_id=emu.app.agent_id,
                              base_url=emu.url, retry=FAST) as client, \
            Relay(config, client, port=0) as r:
        yield r


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


def alert(name: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, **labels},
            "annotations": {"summary": f"{name} summary", "description": f"{name} details"},
            "startsAt": "2026-12-06T04:49:20.752153154Z",
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing"
            else "2026-12-06T04:59:20Z",
            "generatorURL": "http://prometheus.local/graph?g0.expr=up",
            "fingerprint": f"{abs(hash((name, tuple(labels.items())))):016x}"[:16]}


def payload(*alerts: dict[str, Any], group: str = "{}:{alertname=\"DiskFull\"}") -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {"receiver": "relay", "status": "firing" if firing else "resolved",
            "alerts": list(alerts), "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am:9093", "version": "4",
            "groupKey": group, "truncatedAlerts": 0}
