"""Rate limits, fault injection, concurrency measurement, lean mode, lifecycle, CLI, plugin."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest

import dingnotify.testing as testing
from dingnotify.testing import Emulator, Fault, FaultPlan, ManualClock, Org, RateLimits

from .conftest import SEND, Wire

TEXT = {"msgtype": "text", "text": {"content": "x"}}


async def _burst(wire: Wire, n: int) -> list[int]:
    await wire.token()
    bodies = await asyncio.gather(*(wire.send({"msgtype": "text",
                                               "text": {"content": f"m{i}"}},
                                              userid_list="u000001") for i in range(n)))
    return [b["errcode"] for b in bodies]


async def test_realistic_burst_draws_90018(session: aiohttp.ClientSession) -> None:
    async with Emulator(profile="realistic") as emu:
        start = time.monotonic()
        codes = await _burst(Wire(emu, session), 45)
        assert time.monotonic() - start < 1.0
    assert codes.count(0) == 40 and codes.count(90018) == 5
    assert emu.throttled == {90018: 5}
    throttled = next(r.response for r in emu.requests if r.response.get("errcode") == 90018)
    assert "sub_code" not in throttled and "40" in throttled["errmsg"]


async def test_unlimited_draws_none_and_gettoken_is_never_limited(
        session: aiohttp.ClientSession) -> None:
    async with Emulator() as emu:
        codes = await _burst(Wire(emu, session), 60)
    assert set(codes) == {0} and not emu.throttled
    async with Emulator(profile=RateLimits(qps=1)) as emu:
        wire = Wire(emu, session)
        for _ in range(3):
            wire._token = None
            await wire.token()
        assert emu.count("/gettoken") == 3 and not emu.throttled


async def test_per_minute_limit_draws_90006(session: aiohttp.ClientSession) -> None:
    async with Emulator(profile=RateLimits(qps=None, per_minute=5)) as emu:
        codes = await _burst(Wire(emu, session), 7)
    assert codes.count(90006) == 2 and emu.throttled[90006] == 2


async def test_paced_client_at_the_limit_is_never_throttled(
        session: aiohttp.ClientSession) -> None:
    async with Emulator(profile=RateLimits(qps=10)) as emu:
        wire = Wire(emu, session)
        await wire.token()
        start = time.monotonic()
        for i in range(15):  # 10/s paced evenly, plus a little margin for scheduling
            await asyncio.sleep(max(0.0, start + i * 0.105 - time.monotonic()))
            assert (await wire.send({"msgtype": "text", "text": {"content": f"{i}"}},
                                    userid_list="u000001"))["errcode"] == 0
    assert not emu.throttled


async def _raw(session: aiohttp.ClientSession, emu: Emulator, token: str) -> tuple[int, bytes]:
    body = {"agent_id": emu.app.agent_id, "userid_list": "u000001", "msg": TEXT}
    async with session.post(emu.url + SEND, params={"access_token": token}, json=body) as resp:
        return resp.status, await resp.read()


@pytest.mark.parametrize(("kind", "status", "needle"), [
    ("http_500", 500, b"Internal"),
    ("http_502", 502, b"Bad Gateway"),
    ("http_503", 503, b"Unavailable"),
    ("html_error", 200, b"<html>"),
    ("garbage", 200, b'{"errcode":0'),
    ("errcode_-1", 200, b'"errcode":-1'),
    ("errcode_90018", 200, b'"errcode":90018'),
])
async def test_fault_kinds_on_the_wire(session: aiohttp.ClientSession, kind: str, status: int,
                                       needle: bytes) -> None:
    plan = FaultPlan(script={SEND: [kind, "ok"]})
    async with Emulator(faults=plan) as emu:
        token = await Wire(emu, session).token()
        got_status, body = await _raw(session, emu, token)
        assert (got_status, needle in body) == (status, True), body[:200]
        assert (await _raw(session, emu, token))[0] == 200
    assert emu.faults_injected == {kind: 1}
    assert [r.fault for r in emu.requests if r.path == SEND] == [kind, None]
    assert len(emu.tasks) == 1  # the faulted call created nothing


async def test_drop_closes_without_response(session: aiohttp.ClientSession) -> None:
    async with Emulator(faults=FaultPlan(script={SEND: ["drop"]})) as emu:
        token = await Wire(emu, session).token()
        with pytest.raises(aiohttp.ClientError):
            await _raw(session, emu, token)
        assert (await _raw(session, emu, token))[0] == 200
    assert emu.requests[1].status == 0 and emu.faults_injected["drop"] == 1


async def test_delay_after_accept_creates_the_task(session: aiohttp.ClientSession) -> None:
    plan = FaultPlan(rules=[Fault(path=SEND, kind="delay", delay=0.5, after_accept=True,
                                  times=1)])
    async with Emulator(faults=plan) as emu:
        token = await Wire(emu, session).token()
        with pytest.raises(asyncio.TimeoutError):
            async with asyncio.timeout(0.1):
                await _raw(session, emu, token)
        assert len(emu.tasks) == 1 and emu.inboxes["u000001"]  # accepted despite the timeout
        await emu.drain()
    plan2 = FaultPlan(rules=[Fault(path=SEND, kind="delay", delay=0.3, times=1)])
    async with Emulator(faults=plan2) as emu2:
        token = await Wire(emu2, session).token()
        with pytest.raises(asyncio.TimeoutError):
            async with asyncio.timeout(0.1):
                await _raw(session, emu2, token)
        assert not emu2.tasks  # a plain delay holds the request before processing
        await emu2.drain()


async def test_revoke_token_fault(session: aiohttp.ClientSession) -> None:
    async with Emulator(faults=FaultPlan(script={SEND: ["revoke_token"]})) as emu:
        token = await Wire(emu, session).token()
        status, body = await _raw(session, emu, token)
        assert status == 200 and b'"sub_code":"40014"' in body
        assert (await _raw(session, emu, token))[1].count(b'"errcode":88') == 1
        fresh = await Wire(emu, session).token()
        assert fresh != token and emu.tokens_issued == 2


async def test_seeded_faults_reproducible_and_runtime_settable(
        session: aiohttp.ClientSession) -> None:
    async def run(seed: int) -> list[int]:
        plan = FaultPlan(seed=seed, rules=[Fault(path=SEND, kind="http_503",
                                                 probability=0.3)])
        async with Emulator(faults=plan) as emu:
            token = await Wire(emu, session).token()
            return [(await _raw(session, emu, token))[0] for _ in range(30)]

    first, again, other = await run(1), await run(1), await run(2)
    assert first == again and first != other and 503 in first and 200 in first
    async with Emulator() as emu:
        token = await Wire(emu, session).token()
        emu.faults = FaultPlan(rules=[Fault(path="/topapi/*", kind="http_500", times=2)])
        assert [(await _raw(session, emu, token))[0] for _ in range(3)] == [500, 500, 200]
        emu.faults = None
        assert (await _raw(session, emu, token))[0] == 200


def test_fault_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(path=SEND, kind="explode")
    with pytest.raises(ValueError):
        FaultPlan(script={SEND: ["nope"]})


async def test_max_in_flight(session: aiohttp.ClientSession) -> None:
    plan = FaultPlan(rules=[Fault(path=SEND, kind="delay", delay=0.2)])
    async with Emulator(faults=plan) as emu:
        token = await Wire(emu, session).token()
        await asyncio.gather(*(_raw(session, emu, token) for _ in range(6)))
        assert emu.max_in_flight == 6 and emu.max_in_flight_by_path[SEND] == 6
        assert emu.count(SEND) == 6 and emu.counts["/gettoken"] == 1
        emu.reset_stats()
        assert emu.max_in_flight == 0 and not emu.requests and emu.count(SEND) == 0


async def test_lean_mode_validates_but_does_not_record(session: aiohttp.ClientSession) -> None:
    async with Emulator(lean=True) as emu:
        wire = Wire(emu, session)
        bad = await wire.send({"msgtype": "text", "text": {}}, userid_list="u000001")
        assert bad["errcode"] == 40035
        ok = await wire.send(TEXT, userid_list="u000001,ghost")
        assert ok["errcode"] == 0
        result = (await wire.result(ok["task_id"]))["send_result"]
        assert result["invalid_user_id_list"] == ["ghost"]
        assert result["unread_user_id_list"] == ["u000001"]
    assert emu.requests == [] and emu.inboxes == {} and emu.count(SEND) == 2
    task = emu.tasks[ok["task_id"]]
    assert "u000001" in task.delivered and len(task.invalid) == 1


async def test_lifecycle_without_context_manager_and_ports() -> None:
    emu, other = Emulator(), Emulator()
    await emu.start()
    await other.start()
    try:
        assert emu.url.startswith("http://127.0.0.1:") and emu.port != other.port
        assert emu.top_url == emu.url + "/router/rest"
        with pytest.raises(RuntimeError):
            await emu.start()
    finally:
        await emu.stop()
        await other.stop()
    await emu.stop()  # idempotent


def test_public_names() -> None:
    assert set(testing.__all__) == {n for n in dir(testing) if not n.startswith("_")} - {
        "annotations", "plugin"}
    assert {"Emulator", "Org", "App", "User", "Dept", "FaultPlan", "Fault",
            "ManualClock"} <= set(testing.__all__)


def test_wall_testing_never_imports_the_client() -> None:
    import ast
    import pathlib

    root = pathlib.Path(testing.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                external = node.level == 0 and node.module.startswith("dingnotify")
                parent = node.level >= 2
                inside_plugin_fixture = path.name == "plugin.py"
                assert inside_plugin_fixture or not (external or parent), (path, node.module)


def test_manual_clock_and_realistic_profile_parse() -> None:
    clock = ManualClock(100.0)
    assert clock() == 100.0 and clock.advance(5) == 105.0
    with pytest.raises(ValueError):
        Emulator(profile="warp")
    assert Emulator(profile="realistic").limits == RateLimits.professional()
    assert (RateLimits.professional().qps, RateLimits.professional().per_minute) == (40, 1500)
    assert len(Org.synthetic(n_users=0).users) == 0


def test_cli_prints_url_and_credentials() -> None:
    code = (
        "import asyncio, dingnotify.testing.__main__ as m, dingnotify.testing._app as a\n"
        "orig = a.Emulator.run_forever\n"
        "def once(self, on_ready=None):\n"
        "    async def go():\n"
        "        async with self:\n"
        "            on_ready(self)\n"
        "    asyncio.run(go())\n"
        "a.Emulator.run_forever = once\n"
        "raise SystemExit(m.main(['--port', '0', '--users', '5', '--profile', 'realistic']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert "http://127.0.0.1:" in out and "dingemuappkey" in out and "1000" in out




async def test_plugin_emulator_fixture(dingtalk_emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        body: Any = await Wire(dingtalk_emulator, session).send(TEXT, userid_list="u000001")
    assert body["errcode"] == 0
