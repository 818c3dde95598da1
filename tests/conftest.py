"""Shared fixtures. Unit tests mock HTTP with aioresponses; integration tests use the emulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aioresponses import aioresponses

import dingnotify

BASE = "https://oapi.test"
APP_KEY = "unit-app-key"
APP_SECRET = "unit-app-secret-S3CR3T"
TOKEN = "tok0123456789abcdef0123456789abcd"



@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[dingnotify.DingTalkClient]:
    fast = dingnotify.RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01, jitter=False)
    async with dingnotify.DingTalkClient(
        APP_KEY, APP_SECRET, agent_id=123, base_url=BASE, retry=fast
    ) as c:
        yield c


def sent(m: aioresponses, path: str | None = None) -> list[tuple[str, Any, dict[str, Any]]]:
    """Every request aioresponses saw, in order: (method, yarl URL, call kwargs)."""
    # aioresponses groups calls per (method, URL), keys in order of first use.
    return [(method, url, item.kwargs) for (method, url), items in m.requests.items()
            for item in items if path is None or url.path == path]


def body_json(kwargs: dict[str, Any]) -> Any:
    data = kwargs["data"]
    return json.loads(data)


def mock_token(m: aioresponses, token: str = TOKEN, expires_in: int = 7200, **kw: Any) -> None:
    m.get(
        f"{BASE}/gettoken?appkey={APP_KEY}&appsecret={APP_SECRET}",
        payload={"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": expires_in},
        **kw,
    )
