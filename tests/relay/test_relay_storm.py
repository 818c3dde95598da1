"""Storms: a group robot gets digests under its window instead of 130101 or silence, and a
burst of Alertmanager groups reaches every recipient within the quotas, nothing lost."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from dingnotify import DingTalkClient, Governor, Quota
from dingnotify.relay import Relay, load_config
from dingnotify.testing import Emulator, Org

from .conftest import AUTH, FAST, HOOK_SECRET, HOOK_TOKEN, alert, eventually, payload, write_config

RATE_LIMITED = {90018, 90006, 90002, 130101, 88}


def _rate_limit_answers(emu: Emulator) -> list[object]:
    return [r.response.get("errcode") for r in emu.requests
            if isinstance(r.response, dict) and r.response.get("errcode") in RATE_LIMITED]


@pytest.fixture
async def storm_relay(tmp_path: Path, relay_env: None,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Relay, Emulator]]:
    async with Emulator(org=Org.synthetic(n_users=50), profile="standard") as emu:
        emu.add_webhook_robot(HOOK_TOKEN, secret=HOOK_SECRET, limit=3, period=2.0)
        monkeypatch.setenv("OPS_HOOK_URL", emu.webhook_url(HOOK_TOKEN))
        monkeypatch.setenv("OPS_HOOK_SECRET", HOOK_SECRET)
        config = load_config(write_config(tmp_path))
        governor = Governor(Quota.standard())
        async with DingTalkClient(emu.app.app_key, emu.app.app_secret,
                                  agent_id=emu.app.agent_id, base_url=emu.url, retry=FAST,
                                  quota=governor) as client, \
                Relay(config, client, port=0, webhook_window=(2, 2.0),
                      governor=governor) as relay:
            yield relay, emu


async def _post_all(relay: Relay, bodies: list[dict[str, object]]) -> list[int]:
    limiter = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as http:
        async def one(body: dict[str, object]) -> int:
            async with limiter, http.post(f"{relay.url}/alertmanager", json=body,
                                          headers=AUTH) as resp:
                return resp.status

        return await asyncio.gather(*(one(b) for b in bodies))


def _group_texts(emu: Emulator) -> str:
    return "\n".join(m["markdown"]["text"] for m in emu.webhook_robots.messages(HOOK_TOKEN))


async def test_a_burst_to_a_group_robot_arrives_as_digests_without_130101(
        storm_relay: tuple[Relay, Emulator]) -> None:
    relay, emu = storm_relay
    bodies = [payload(alert(f"Deploy{i}", team="ops"), group=f"g{i}") for i in range(30)]
    for wave in range(3):  # the robot's window (2 per 2 s here) is full from the 2nd wave on
        assert await _post_all(relay, bodies[wave * 10:wave * 10 + 10]) == [200] * 10
        await asyncio.sleep(0.3)
    await eventually(lambda: all(f"Deploy{i} summary" in _group_texts(emu) for i in range(30)),
                     timeout=40)
    text = _group_texts(emu)
    assert [i for i in range(30) if f"Deploy{i} summary" not in text] == []
    messages = emu.webhook_robots.messages(HOOK_TOKEN)
    assert len(messages) < 10  # digests, not one message each
    assert any(re.match(r"\d+ notifications: ", m["markdown"]["title"]) for m in messages)
    assert _rate_limit_answers(emu) == []
    assert relay.metrics.counts["digests"] >= 1
    assert relay.metrics.counts["rate_limit_waits"] >= 1


async def test_an_alertmanager_storm_reaches_everyone_with_no_rate_limit_answer(
        storm_relay: tuple[Relay, Emulator]) -> None:
    """2,000 alerts in 200 groups, half to a work-notice route and half to a group robot
    (bounded to keep the suite short: 10,000 alerts take about two minutes here)."""
    relay, emu = storm_relay
    bodies = []
    for g in range(200):
        team = {"team": "db", "severity": "critical"} if g % 2 else {"team": "ops"}
        bodies.append(payload(*(alert(f"Storm{g}x{i}", **team, instance=f"h{i}")
                                for i in range(10)), group=f"storm-{g}"))
    assert await _post_all(relay, bodies) == [200] * 200

    def seen() -> set[str]:
        texts = [m.msg["markdown"]["text"] for user in ("u000001", "u000002")
                 for m in emu.inboxes.get(user, [])] + [_group_texts(emu)]
        return set(re.findall(r"\*\*(Storm\d+x\d+)\*\*", "\n".join(texts)))

    expected = {f"Storm{g}x{i}" for g in range(200) for i in range(10)}
    await eventually(lambda: seen() >= expected, timeout=150)
    assert expected - seen() == set()
    for user in ("u000001", "u000002"):  # every db alert reached both people
        text = "\n".join(m.msg["markdown"]["text"] for m in emu.inboxes[user])
        assert {f"Storm{g}x{i}" for g in range(1, 200, 2) for i in range(10)} <= set(
            re.findall(r"\*\*(Storm\d+x\d+)\*\*", text))
    assert _rate_limit_answers(emu) == []
    assert relay.metrics.counts["failed"] == 0
    assert max(len(emu.inboxes[u]) for u in ("u000001", "u000002")) <= 500  # a day's cap
    assert relay.metrics.wait_seconds() > 0  # the quota paced the storm, DingTalk did not
