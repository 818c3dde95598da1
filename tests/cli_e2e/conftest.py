"""CLI tests run the real entry point in a subprocess against an emulator served from a
background thread, so the test can read the emulator's inboxes and tasks directly."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dingnotify.testing import Emulator, Org

SEND = "/topapi/message/corpconversation/asyncsend_v2"


class ThreadedEmulator:
    """An ``Emulator`` on its own loop in a thread; stopped and joined on exit."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.emu: Emulator | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with Emulator(**self.kwargs) as emu:
            self.emu = emu
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Emulator:
        self._thread.start()
        if not self._ready.wait(15) or self.emu is None:
            raise RuntimeError("emulator thread did not start")
        return self.emu

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with ThreadedEmulator(org=Org.synthetic(n_users=3_000)) as emulator:
        yield emulator


def cli_env(emu: Emulator | None, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGNOTIFY_"))}
    env["DINGNOTIFY_CONFIG"] = "/nonexistent/dingnotify.toml"
    if emu is not None:
        env.update(DINGTALK_APP_KEY=emu.app.app_key, DINGTALK_APP_SECRET=emu.app.app_secret,
                   DINGTALK_AGENT_ID=str(emu.app.agent_id), DINGTALK_BASE_URL=emu.url)
    env.update(overrides)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dingnotify.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
