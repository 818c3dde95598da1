"""A real Alertmanager (Debian's ``prometheus-alertmanager`` 0.25) as the relay's client:
alerts posted to its API reach the emulator's inboxes, firing and then resolved."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from dingnotify.relay import Relay
from dingnotify.testing import Emulator

from .conftest import TOKEN, eventually

BINARY = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
pytestmark = pytest.mark.skipif(
    not Path(BINARY).exists(),
    reason="prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager;"
           " .ci/run installs it)")

AM_CONFIG = """\
route: {{receiver: relay, group_by: ['alertname'], group_wait: 1s, group_interval: 2s,
        repeat_interval: 1h}}
receivers:
  - name: relay
    webhook_configs:
      - url: {url}/alertmanager
        send_resolved: true
        http_config: {{authorization: {{type: Bearer, credentials: {token}}}}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def alertmanager(relay: Relay, tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "alertmanager.yml"
    config.write_text(AM_CONFIG.format(url=relay.url, token=TOKEN))
    port = _free_port()
    log = (tmp_path / "am.log").open("w")
    proc = subprocess.Popen(
        [BINARY, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


async def _ready(http: aiohttp.ClientSession, am: str) -> bool:
    try:
        async with http.get(f"{am}/-/ready") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


def _texts(emu: Emulator, user: str) -> list[str]:
    return [m.msg["markdown"]["text"] for m in emu.inboxes.get(user, [])]


async def test_alertmanager_firing_then_resolved_reach_the_inbox(
        alertmanager: str, emu: Emulator, http: aiohttp.ClientSession) -> None:
    assert await eventually(lambda: _ready(http, alertmanager), timeout=30), "AM not ready"
    now = datetime.now(UTC)
    alert = {"labels": {"alertname": "DiskFull", "team": "db", "severity": "critical",
                        "instance": "db1:9100"},
             "annotations": {"summary": "Disk almost full", "description": "92% used"},
             "startsAt": (now - timedelta(minutes=5)).isoformat(),
             "generatorURL": "http://prometheus.local/graph?g0.expr=disk"}
    async with http.post(f"{alertmanager}/api/v2/alerts", json=[alert]) as resp:
        assert resp.status == 200
    assert await eventually(lambda: _texts(emu, "u000001"), timeout=30)
    firing = _texts(emu, "u000001")[0]
    assert "[FIRING:1] DiskFull" in firing and "Disk almost full" in firing
    assert "92% used" in firing and "`instance=db1:9100`" in firing
    assert "http://prometheus.local/graph?g0.expr=disk" in firing

    resolved = {**alert, "endsAt": datetime.now(UTC).isoformat()}
    async with http.post(f"{alertmanager}/api/v2/alerts", json=[resolved]) as resp:
        assert resp.status == 200
    assert await eventually(lambda: len(_texts(emu, "u000001")) >= 2, timeout=30)
    texts = _texts(emu, "u000001")
    assert "[RESOLVED] DiskFull" in texts[1]
    assert [len(_texts(emu, u)) for u in ("u000001", "u000002")] == [2, 2]
