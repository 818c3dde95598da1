"""Shared tokens between clients of separate coordinations (as separate processes)."""

from __future__ import annotations

import pytest

from dingnotify import DingTalkClient, Governor, MemoryTokenStore, Quota, Text, ValidationError
from dingnotify.redis import RedisCoordination
from dingnotify.testing import Emulator, Org
from tests.redis.conftest import RedisServer


async def test_a_revoked_token_is_fetched_again_once_for_all(redis_server: RedisServer,
                                                             namespace: str) -> None:
    """The second process to meet the revoked token finds the first one's fresh token in
    the store instead of deleting it and fetching a third."""
    org = Org.synthetic(n_users=10)
    app, userid = org.apps[0], next(iter(org.users))
    async with Emulator(org=org) as emu:
        shared = [RedisCoordination.from_url(redis_server.url, namespace=namespace)
                  for _ in range(2)]
        clients = [DingTalkClient(app.app_key, app.app_secret, agent_id=app.agent_id,
                                  base_url=emu.url, coordination=s) for s in shared]
        try:
            for client in clients:
                await client.work_notice.send(Text(content="a"), userids=[userid])
            assert emu.count("/gettoken") == 1
            emu.revoke_tokens()
            for client in clients:
                await client.work_notice.send(Text(content="b"), userids=[userid])
            assert emu.count("/gettoken") == 2
            store = shared[0].token_store()
            assert await store.get(f"dingtalk:{app.app_key}") == \
                await clients[1].get_access_token()
        finally:
            for client, s in zip(clients, shared, strict=True):
                await client.aclose()
                await s.aclose()


def test_coordination_excludes_a_token_store_or_a_governor_of_ones_own(
        coordination: RedisCoordination) -> None:
    with pytest.raises(ValidationError, match="token_store"):
        DingTalkClient("k", "s", coordination=coordination, token_store=MemoryTokenStore())
    with pytest.raises(ValidationError, match="a Quota"):
        DingTalkClient("k", "s", coordination=coordination, quota=Governor(Quota()))
    client = DingTalkClient("k", "s", coordination=coordination, quota=Quota.professional())
    assert client.quota == Quota.professional()
