"""``dingnotify serve`` as a process: its help, its one-line errors, and a SIGKILL at any
moment followed by a restart delivering every accepted notification."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from dingnotify.testing import Emulator, Org
from tests.cli_e2e.conftest import ThreadedEmulator, cli_env, run_cli

from .conftest import AUTH, TOKEN, eventually

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
[relay]
queue = "relay.sqlite"
token_env = "RELAY_TOKEN"

[[route]]
name = "all"
work_notice = { userids = ["u000001"] }
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with ThreadedEmulator(org=Org.synthetic(n_users=400), profile="standard") as emulator:
        yield emulator


def _env(emu: Emulator | None, **extra: str) -> dict[str, str]:
    """The CLI's environment, running this checkout's code from any directory."""
    return cli_env(emu, RELAY_TOKEN=TOKEN, PYTHONPATH=str(ROOT), **extra)


def _start(tmp_path: Path, emu: Emulator, port: int) -> subprocess.Popen[bytes]:
    with (tmp_path / "relay.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dingnotify.cli", "serve", "--config", "relay.toml",
             "--listen", f"127.0.0.1:{port}"], cwd=tmp_path, env=_env(emu),
            stdout=subprocess.DEVNULL, stderr=log)


async def _up(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(f"{url}/healthz", headers=AUTH) as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


def _delivered(emu: Emulator) -> set[str]:
    return {m.msg["text"]["content"] for inbox in list(emu.inboxes.values())
            for m in list(inbox)}


async def test_sigkill_mid_flight_then_restart_delivers_every_accepted_id(
        tmp_path: Path, emu: Emulator) -> None:
    (tmp_path / "relay.toml").write_text(CONFIG)
    port = _port()
    proc = _start(tmp_path, emu, port)
    try:
        await _kill_and_restart(tmp_path, emu, port, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def _kill_and_restart(tmp_path: Path, emu: Emulator, port: int,
                            proc: subprocess.Popen[bytes]) -> None:
    url = f"http://127.0.0.1:{port}"
    accepted: dict[str, str] = {}
    enough = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        assert await eventually(lambda: _up(http, url), timeout=30)

        async def post(i: int) -> None:
            body = {"to": {"userids": [f"u{i % 300 + 1:06d}"]},
                    "message": {"msgtype": "text", "text": {"content": f"n-{i}"}}}
            try:
                async with http.post(f"{url}/notify", json=body, headers=AUTH) as resp:
                    if resp.status == 202:
                        accepted[(await resp.json())["id"]] = f"n-{i}"
                        if len(accepted) >= 60:
                            enough.set()
            except aiohttp.ClientError:
                pass  # not accepted: the relay died first

        async def killer() -> None:
            await enough.wait()
            os.kill(proc.pid, signal.SIGKILL)

        kill = asyncio.create_task(killer())
        await asyncio.gather(*(post(i) for i in range(120)))
        await kill
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        missing_before = set(accepted.values()) - _delivered(emu)
        assert missing_before, "killed too late: everything was already delivered"

        again = _start(tmp_path, emu, port)
        try:
            assert await eventually(lambda: _up(http, url), timeout=30)
            await eventually(lambda: set(accepted.values()) <= _delivered(emu), timeout=90)
            assert set(accepted.values()) - _delivered(emu) == set()
            for id_ in list(accepted)[:5]:
                async with http.get(f"{url}/notifications/{id_}", headers=AUTH) as resp:
                    assert (await resp.json())["status"] in ("sent", "delivered")
        finally:
            again.send_signal(signal.SIGTERM)
            assert again.wait(20) == 0


def test_serve_help_documents_every_option_and_the_exit_codes() -> None:
    result = run_cli(["serve", "--help"], _env(None))
    assert result.returncode == 0
    for option in ("--config", "--listen", "--redis", "--base-url", "--agent-id", "--edition",
                   "--request-timeout", "--concurrency", "--robot-code", "--api-base-url",
                   "127.0.0.1:9095", "exit codes:", "token_env", "[[route]]"):
        assert option in result.stdout, option


@pytest.mark.parametrize(("config", "code", "message"), [
    ("[relay\n", 2, "not valid TOML"),
    ('[relay]\ntoken_env = "NOPE_UNSET"\n', 2, "NOPE_UNSET is not set"),
    ('[relay]\ntoken_env = "RELAY_TOKEN"\n[[route]]\nname = "x"\n', 2, "exactly one of"),
    ('[relay]\ntoken_env = "RELAY_TOKEN"\nqueue = "no/such/dir/q.sqlite"\n', 2, "queue"),
    ('[relay]\ntoken_env = "RELAY_TOKEN"\n[[route]]\nname = "x"\nrobot = { userids = ["a"] }\n',
     2, "--robot-code"),
])
def test_bad_config_is_one_line_and_a_documented_exit_code(
        tmp_path: Path, config: str, code: int, message: str) -> None:
    (tmp_path / "relay.toml").write_text(config)
    env = _env(None, DINGTALK_APP_KEY="k", DINGTALK_APP_SECRET="s", DINGTALK_AGENT_ID="1")
    result = run_cli(["serve", "--config", str(tmp_path / "relay.toml"),
                      "--listen", f"127.0.0.1:{_port()}"], env, timeout=30)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_missing_credentials_exit_3_and_bad_listen_exit_2(tmp_path: Path) -> None:
    (tmp_path / "relay.toml").write_text(CONFIG)
    env = _env(None)
    result = run_cli(["serve", "--config", str(tmp_path / "relay.toml")], env, timeout=30)
    assert result.returncode == 3 and len(result.stderr.strip().splitlines()) == 1
    result = run_cli(["serve", "--config", "x.toml", "--listen", "nope"], env, timeout=30)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_credentials_come_from_relay_toml_or_the_usual_config_file(tmp_path: Path) -> None:
    (tmp_path / "relay.toml").write_text(CONFIG + '[dingtalk]\napp_key = "k"\n')
    (tmp_path / "usual.toml").write_text('[dingtalk]\napp_key = "k"\napp_secret = "s"\n')
    env = _env(None, DINGNOTIFY_CONFIG=str(tmp_path / "usual.toml"))
    result = run_cli(["serve", "--config", str(tmp_path / "relay.toml")], env, timeout=30)
    assert result.returncode == 3 and "relay.toml" in result.stderr  # its [dingtalk] wins
    (tmp_path / "relay.toml").write_text(CONFIG)
    result = run_cli(["serve", "--config", str(tmp_path / "relay.toml")], env, timeout=30)
    assert result.returncode == 3 and "agent id" in result.stderr  # usual.toml's key was read


def test_an_address_in_use_exits_5(tmp_path: Path) -> None:
    (tmp_path / "relay.toml").write_text(CONFIG)
    env = _env(None, DINGTALK_APP_KEY="k", DINGTALK_APP_SECRET="s", DINGTALK_AGENT_ID="1")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(["serve", "--config", str(tmp_path / "relay.toml"),
                          "--listen", f"127.0.0.1:{port}"], env, cwd=tmp_path, timeout=30)
    assert result.returncode == 5, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
