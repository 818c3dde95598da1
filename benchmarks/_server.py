"""The benchmark servers: the emulator in lean mode, in its own process, pinned to a core,
and a private ``redis-server``.

``limits`` is an emulator profile name or a dict of ``RateLimits`` fields (``_serve.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any


def cpu_pin(core: int) -> list[str]:
    """``taskset -c CORE`` when available and the machine has more than one core."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core)]
    return []


@contextlib.contextmanager
def redis_server(core: int = 0) -> Iterator[str]:
    """A private ``redis-server`` on a free 127.0.0.1 port, without persistence: its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen([*cpu_pin(core), binary, "--port", str(port), "--bind",
                                   "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                   directory], stdout=subprocess.DEVNULL)
        try:
            for _ in range(500):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(10)


@dataclass
class ServerStats:
    counts: dict[str, int]
    throttled: dict[str, int]
    cpu_seconds: float
    undelivered: int = 0


class LeanServer:
    """The lean emulator (``benchmarks._serve``) on 127.0.0.1, read back through its stats URL."""

    def __init__(self, *, users: int, limits: str | dict[str, Any] = "unlimited",
                 core: int = 0) -> None:
        self.users = users
        self.limits = limits
        self.core = core
        self.url = ""
        self.robot_code = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> LeanServer:
        limits = self.limits if isinstance(self.limits, str) else json.dumps(self.limits)
        cmd = [*cpu_pin(self.core), sys.executable, "-m", "benchmarks._serve", str(self.users),
               limits]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # at most a few lines before the ready line
            line = self._proc.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                ready = json.loads(line)
                self.url, self.robot_code = str(ready["url"]), str(ready["robot_code"])
                if not self.url.startswith("http://127.0.0.1:"):
                    break
                return self
        self.__exit__(None, None, None)
        raise RuntimeError("emulator did not start")

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
            if self._proc.stdout is not None:
                self._proc.stdout.close()

    def _call(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method ==
                                     "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        self._call("/_emulator/reset", "POST")

    def stats(self) -> ServerStats:
        data = self._call("/_emulator/stats")
        return ServerStats(counts=data["counts"], throttled=data["throttled"],
                           cpu_seconds=float(data["cpu_seconds"]),
                           undelivered=int(data.get("undelivered_total", 0)))
