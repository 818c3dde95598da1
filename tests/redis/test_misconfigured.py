"""A wrong password, a missing one, or a host name that does not resolve is a mistake to
report, not an outage to pace through on the local share; a refused connection still is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dingnotify import DingNotifyError, Quota
from dingnotify.redis import RedisConfigurationError, RedisCoordination
from tests.redis.conftest import BINARY, RedisServer

PASSWORD = "s3cret-pass"  # a test server's


@pytest.fixture
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if BINARY is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"), args=["--requirepass", PASSWORD])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("credentials", ["", ":wrong-pass@", "someone:wrong-pass@"])
async def test_refused_credentials_raise_instead_of_falling_back(
        locked_server: RedisServer, credentials: str) -> None:
    url = f"redis://{credentials}127.0.0.1:{locked_server.port}/0"
    async with RedisCoordination.from_url(url, namespace="n") as shared:
        governor = shared.governor("app", Quota())
        with pytest.raises(RedisConfigurationError, match="credentials") as caught:
            await governor.acquire("/x")
        assert isinstance(caught.value, DingNotifyError)
        assert "wrong-pass" not in str(caught.value) and caught.value.__cause__ is None
        with pytest.raises(RedisConfigurationError):
            await shared.token_store().get("k")
        assert shared.available and shared.health.outages == 0


async def test_the_right_password_works(locked_server: RedisServer) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{locked_server.port}/0"
    async with RedisCoordination.from_url(url, namespace="n") as shared:
        (await shared.governor("app", Quota()).acquire("/x")).done()
        assert shared.health.reached and shared.available


async def test_a_host_that_does_not_resolve_raises() -> None:
    async with RedisCoordination.from_url("redis://no-such-host.invalid:6379/0",
                                          namespace="n") as shared:
        with pytest.raises(RedisConfigurationError, match="does not resolve"):
            await shared.governor("app", Quota()).acquire("/x")
        assert shared.health.outages == 0


async def test_a_refused_connection_is_an_outage() -> None:
    async with RedisCoordination.from_url("redis://127.0.0.1:1/0", namespace="n") as shared:
        (await shared.governor("app", Quota()).acquire("/x")).done()
        assert not shared.available and shared.health.outages == 1
