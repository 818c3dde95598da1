"""pytest plugin: ``pytest_plugins = ["dingnotify.testing.plugin"]`` (needs pytest-asyncio,
installed by ``pip install 'dingnotify[testing]'``).

``dingtalk_emulator`` is a running ``Emulator`` (default org) per test;
``dingtalk_emulator_factory`` starts more, with any profile, org or faults, and closes them
at teardown; ``dingtalk_client`` is a ``dingnotify.DingTalkClient`` bound to
``dingtalk_emulator`` with fast retries (tests wait milliseconds, not seconds).

The fixtures are ``pytest_asyncio`` fixtures, so they work in pytest-asyncio's default
strict mode; mark the tests that use them ``@pytest.mark.asyncio`` (or set
``asyncio_mode = "auto"``). The client is imported inside the fixture: the emulator
package itself never imports the SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

try:
    import pytest_asyncio
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "dingnotify.testing.plugin needs pytest-asyncio: pip install 'dingnotify[testing]'"
    ) from error

from ._app import Emulator

if TYPE_CHECKING:
    from dingnotify import DingTalkClient

__all__ = ["dingtalk_client", "dingtalk_emulator", "dingtalk_emulator_factory"]

EmulatorFactory = Callable[..., Awaitable[Emulator]]
"""``await factory(profile=..., org=..., faults=..., **emulator_kwargs)`` -> a started emulator."""


@pytest_asyncio.fixture
async def dingtalk_emulator_factory() -> AsyncIterator[EmulatorFactory]:
    """Starts emulators on demand (``Emulator``'s keyword arguments); all closed at teardown."""
    async with AsyncExitStack() as stack:

        async def start(**kwargs: Any) -> Emulator:
            return await stack.enter_async_context(Emulator(**kwargs))

        yield start


@pytest_asyncio.fixture
async def dingtalk_emulator() -> AsyncIterator[Emulator]:
    """A running emulator with the default synthetic organisation (200 users)."""
    async with Emulator() as emu:
        yield emu


@pytest_asyncio.fixture
async def dingtalk_client(dingtalk_emulator: Emulator) -> AsyncIterator[DingTalkClient]:
    """A ``DingTalkClient`` for the emulator's first app, retrying fast
    (``RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)``)."""
    from dingnotify import DingTalkClient, RetryPolicy

    app = dingtalk_emulator.app
    async with DingTalkClient(app.app_key, app.app_secret, agent_id=app.agent_id,
                              base_url=dingtalk_emulator.url,
                              retry=RetryPolicy(max_attempts=3, base_delay=0.01,
                                                max_delay=0.05)) as client:
        yield client
