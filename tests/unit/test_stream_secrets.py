"""The Stream client's open request carries the app secret: a failed connect's traceback,
with its frames' locals captured, must not."""

from __future__ import annotations

import socket
import traceback

import aiohttp
import pytest

from dingnotify.stream import StreamClient

SECRET = "stream-app-secret-do-not-leak"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_failed_connect_keeps_the_secret_out_of_captured_locals() -> None:
    stream = StreamClient("app-key", SECRET, api_base_url=f"http://127.0.0.1:{_closed_port()}")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError) as caught:
            await stream._connect(session)
    shown = "".join(traceback.TracebackException.from_exception(
        caught.value, capture_locals=True).format())
    assert "body" in shown and SECRET not in shown
