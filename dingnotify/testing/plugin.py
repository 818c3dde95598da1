"""pytest plugin: ``pytest_plugins = ["dingnotify.testing.plugin"]``.

``dingtalk_emulator`` is a running ``Emulator`` (default org) per test; ``dingtalk_client`` is
a ``dingnotify.DingTalkClient`` bound to it. The client is imported inside the fixture: the
emulator package itself never imports the SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

try:
    import pytest_asyncio
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "dingnotify.testing.plugin needs pytest-asyncio: pip install pytest-asyncio"
    ) from error

from ._app import Emulator

if TYPE_CHECKING:
    from dingnotify import DingTalkClient

__all__ = ["dingtalk_client", "dingtalk_emulator"]


@pytest_asyncio.fixture
async def dingtalk_emulator() -> AsyncIterator[Emulator]:
    """A running emulator with the default synthetic organisation (200 users)."""
    async with Emulator() as emu:
        yield emu


@pytest_asyncio.fixture
async def dingtalk_client(dingtalk_emulator: Emulator) -> AsyncIterator[DingTalkClient]:
    """A ``DingTalkClient`` for the emulator's first app."""
    from dingnotify import DingTalkClient

    app = dingtalk_emulator.app
    async with DingTalkClient(app.app_key, app.app_secret, agent_id=app.agent_id,
                              base_url=dingtalk_emulator.url) as client:
        yield client
