"""``dingnotify emulator`` serves the emulator as a process, faults included."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.cli_e2e.conftest import cli_env


def test_emulator_command_serves_with_injected_faults() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dingnotify.cli", "emulator", "--port", "0", "--users", "10",
         "--fault", "http_503:1:/user/get_by_mobile"],
        env=cli_env(None), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        url = ""
        for _ in range(20):  # the banner is a few lines; the URL comes first
            found = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
            if found:
                url = found.group(0)
                break
        assert url, "no URL printed"
        query = "appkey=dingemuappkey&appsecret=emu-secret-do-not-log"
        with urllib.request.urlopen(f"{url}/gettoken?{query}", timeout=10) as resp:
            token = json.loads(resp.read())["access_token"]
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(
                f"{url}/user/get_by_mobile?access_token={token}&mobile=13800000001", timeout=10)
        assert info.value.code == 503
        info.value.close()
        with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=10) as resp:
            stats = json.loads(resp.read())
        assert stats["faults_injected"] == {"http_503": 1}
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
