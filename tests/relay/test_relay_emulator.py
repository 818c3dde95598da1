"""The relay in-process, against the emulator: what reaches each inbox and group robot."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
import pytest

from dingnotify.relay import Relay
from dingnotify.testing import Emulator

from .conftest import AUTH, HOOK_SECRET, HOOK_TOKEN, TOKEN, alert, eventually, payload


async def _post(http: aiohttp.ClientSession, relay: Relay, path: str, body: Any,
                headers: dict[str, str] = AUTH) -> tuple[int, Any]:
    async with http.post(relay.url + path, json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def _status(http: aiohttp.ClientSession, relay: Relay, id_: str) -> Any:
    async with http.get(f"{relay.url}/notifications/{id_}", headers=AUTH) as resp:
        assert resp.status == 200
        return await resp.json()


async def test_notify_explicit_work_notice_is_delivered_and_confirmed(
        relay: Relay, emu: Emulator, http: aiohttp.ClientSession) -> None:
    message = {"msgtype": "markdown", "markdown": {"title": "Backup", "text": "### done"}}
    status, body = await _post(http, relay, "/notify", {
        "to": {"userids": ["u000001", "u000002"]}, "channel": "work_notice",
        "message": message})
    assert status == 202
    view = await eventually(lambda: _delivered(http, relay, body["id"]))
    assert view["status"] == "delivered"
    assert len(view["task_ids"]) == 1
    assert set(view["outcome"]) == {"u000001", "u000002"}
    for user in ("u000001", "u000002"):
        assert [m.msg for m in emu.inboxes[user]] == [message]


async def _delivered(http: aiohttp.ClientSession, relay: Relay, id_: str) -> Any:
    view = await _status(http, relay, id_)
    return view if view["status"] == "delivered" else None


async def test_notify_route_with_template_and_idempotency_key(
        relay: Relay, emu: Emulator, http: aiohttp.ClientSession) -> None:
    request = {"route": "db-oncall", "template": "deploy",
               "data": {"service": "billing", "hosts": ["h1", "h2"]},
               "idempotency_key": "deploy-42"}
    first = await _post(http, relay, "/notify", request)
    again = await _post(http, relay, "/notify", request)
    assert first[0] == again[0] == 202
    assert first[1]["id"] == again[1]["id"]
    await eventually(lambda: _delivered(http, relay, first[1]["id"]))
    msgs = [m.msg for m in emu.inboxes["u000001"]]
    assert msgs == [{"msgtype": "markdown", "markdown": {
        "title": "Deploy billing", "text": "### Deploy billing\n- h1\n- h2\n"}}]


async def test_alertmanager_group_is_routed_firing_then_resolved(
        relay: Relay, emu: Emulator, http: aiohttp.ClientSession) -> None:
    db = alert("DiskFull", team="db", severity="critical", instance="db1:9100")
    status, body = await _post(http, relay, "/alertmanager", payload(db))
    assert status == 200 and len(body["ids"]) == 1
    await eventually(lambda: emu.inboxes.get("u000001"))
    resolved = {**db, "status": "resolved", "endsAt": "2026-12-06T05:00:00Z"}
    status, _ = await _post(http, relay, "/alertmanager", payload(resolved))
    assert status == 200
    await eventually(lambda: len(emu.inboxes.get("u000002", [])) == 2)
    texts = [m.msg["markdown"]["text"] for m in emu.inboxes["u000002"]]
    assert "[FIRING:1] DiskFull" in texts[0] and "DiskFull summary" in texts[0]
    assert "DiskFull details" in texts[0] and "`instance=db1:9100`" in texts[0]
    assert "http://prometheus.local/graph?g0.expr=up" in texts[0]
    assert "[RESOLVED] DiskFull" in texts[1]
    assert "u000003" not in emu.inboxes  # the first matching route only


async def test_one_notification_per_matched_route(
        relay: Relay, emu: Emulator, http: aiohttp.ClientSession) -> None:
    status, body = await _post(http, relay, "/alertmanager", payload(
        alert("A", team="db", severity="critical"), alert("B", team="web")))
    assert status == 200 and len(body["ids"]) == 2
    await eventually(lambda: emu.inboxes.get("u000001") and emu.inboxes.get("u000003"))
    assert "**A**" in emu.inboxes["u000001"][0].msg["markdown"]["text"]
    assert "**B**" in emu.inboxes["u000003"][0].msg["markdown"]["text"]
    assert "**B**" not in emu.inboxes["u000001"][0].msg["markdown"]["text"]


async def test_the_same_alertmanager_payload_twice_queues_once(
        relay: Relay, emu: Emulator, http: aiohttp.ClientSession) -> None:
    body = payload(alert("DiskFull", team="db", severity="critical"))
    first = await _post(http, relay, "/alertmanager", body)
    second = await _post(http, relay, "/alertmanager", body)
    assert first == second
    await eventually(lambda: emu.inboxes.get("u000001"))
    await _delivered(http, relay, first[1]["ids"][0])
    assert len(emu.inboxes["u000001"]) == 1


async def test_webhook_route_reaches_the_group_robot(
        relay: Relay, emu: Emulator, http: aiohttp.ClientSession) -> None:
    status, body = await _post(http, relay, "/alertmanager",
                               payload(alert("Deploy", team="ops")))
    assert status == 200
    view = await eventually(lambda: _sent(http, relay, body["ids"][0]))
    assert view["status"] == "sent"
    robot_messages = _hook_messages(emu)
    assert len(robot_messages) == 1 and "Deploy summary" in robot_messages[0]


async def _sent(http: aiohttp.ClientSession, relay: Relay, id_: str) -> Any:
    view = await _status(http, relay, id_)
    return view if view["status"] == "sent" else None


def _hook_messages(emu: Emulator) -> list[str]:
    return [m["markdown"]["text"] for m in emu.webhook_robots.messages(HOOK_TOKEN)]


async def test_status_unknown_id_is_404(relay: Relay, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{relay.url}/notifications/nope", headers=AUTH) as resp:
        assert resp.status == 404


async def test_a_notification_that_cannot_be_sent_ends_failed_with_its_error(
        relay: Relay, emu: Emulator, http: aiohttp.ClientSession) -> None:
    message = {"msgtype": "text", "text": {"content": "x"}}
    status, body = await _post(http, relay, "/notify", {
        "to": {"userids": ["u000001"]}, "channel": "robot", "message": message})
    assert status == 202  # the client was built without a robot code
    view = await eventually(lambda: _ended(http, relay, body["id"]))
    assert view["status"] == "failed" and "ValidationError" in view["error"]
    status, body = await _post(http, relay, "/notify", {
        "to": {"mobiles": ["13900000000"]}, "message": message})
    view = await eventually(lambda: _ended(http, relay, body["id"]))
    assert view["status"] == "failed"
    assert view["outcome"] == {"13900000000": "unknown_mobile"}


async def _ended(http: aiohttp.ClientSession, relay: Relay, id_: str) -> Any:
    view = await _status(http, relay, id_)
    return view if view["status"] in ("failed", "delivered") else None


async def test_no_secret_in_logs_metrics_or_statuses(
        relay: Relay, emu: Emulator, http: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emu.webhook_robots.robots[HOOK_TOKEN].secret = "SECwrong-now"  # every send is refused
    status, body = await _post(http, relay, "/alertmanager", payload(alert("X", team="ops")))
    assert status == 200
    view = await eventually(lambda: _errored(http, relay, body["ids"][0]))
    async with http.get(f"{relay.url}/metrics", headers=AUTH) as resp:
        metrics = await resp.text()
    seen = "\n".join([caplog.text, json.dumps(view), metrics])
    assert "WebhookRejectedError" in view["error"] or "Webhook" in view["error"]
    for secret in (HOOK_TOKEN, HOOK_SECRET, TOKEN, emu.app.app_secret):
        assert secret not in seen


async def _errored(http: aiohttp.ClientSession, relay: Relay, id_: str) -> Any:
    view = await _status(http, relay, id_)
    return view if view["error"] else None
