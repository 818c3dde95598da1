"""Concurrency safety (issue 8): one refresh for a thousand callers racing an expiring token,
and a client shared across tasks that never mixes one caller's request with another's."""

from __future__ import annotations

import anyio

from dingnotify import RetryPolicy, Text
from dingnotify.testing import Emulator, Fault, FaultPlan, ManualClock, Org
from tests.emulated import client_for

SEND = "/topapi/message/corpconversation/asyncsend_v2"
FAST = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05)


async def test_1000_callers_while_the_token_expires_refresh_once() -> None:
    clock = ManualClock()
    org = Org.synthetic(n_users=1000)
    async with Emulator(org=org, clock=clock) as emu, client_for(emu, clock, retry=FAST) as client:
        first = await client.get_access_token()
        clock.advance(7200)
        found: dict[str, str] = {}

        async def lookup(i: int) -> None:
            found[f"138{i:08d}"] = await client.users.get_by_mobile(f"138{i:08d}")

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for i in range(1, 1001):
                    tg.start_soon(lookup, i)
        assert emu.count("/gettoken") == 2 and client.token_refreshes == 2
        assert found == {u.mobile: u.userid for u in org.users.values()}
        tokens = {r.query["access_token"] for r in emu.requests
                  if r.path == "/user/get_by_mobile"}
        assert len(tokens) == 1 and first not in tokens


async def test_1000_callers_after_a_revocation_refresh_once() -> None:
    async with Emulator(org=Org.synthetic(n_users=1000)) as emu, \
            client_for(emu, retry=FAST) as client:
        await client.get_access_token()
        emu.revoke_tokens()
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for i in range(1, 1001):
                    tg.start_soon(client.users.get_by_mobile, f"138{i:08d}")
        assert emu.count("/gettoken") == 2
        assert emu.count("/user/get_by_mobile") == 2000  # each rejected once, then retried


async def test_shared_client_never_mixes_bodies_under_faults() -> None:
    plan = FaultPlan(seed=11, rules=[Fault(path=SEND, kind="http_503", probability=0.1),
                                     Fault(path=SEND, kind="drop", probability=0.05),
                                     Fault(path=SEND, kind="revoke_token", probability=0.01,
                                           times=1)])
    org = Org.synthetic(n_users=600)
    async with Emulator(org=org, faults=plan) as emu, client_for(emu, retry=FAST) as client:

        async def notify(uid: str) -> None:
            await client.work_notice.send(Text(content=f"only for {uid}"), userids=[uid])

        async def fan_out(group: list[str]) -> None:
            await client.work_notice.broadcast(Text(content=f"group {group[0]}"),
                                               userids=group, concurrency=4)

        users = list(org.users)
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for uid in users[:400]:
                    tg.start_soon(notify, uid)
                for start in range(400, 600, 50):
                    tg.start_soon(fan_out, users[start:start + 50])
        for uid in users[:400]:
            [only] = emu.inboxes[uid]
            assert only.msg == {"msgtype": "text", "text": {"content": f"only for {uid}"}}
        for start in range(400, 600, 50):
            for uid in users[start:start + 50]:
                [got] = emu.inboxes[uid]
                assert got.msg["text"]["content"] == f"group {users[start]}"
        for task in emu.tasks.values():  # every request carried one caller's users and text
            owners = set(task.userids)
            text = task.msg["text"]["content"]
            assert text == f"only for {next(iter(owners))}" or text.startswith("group ")
        assert emu.faults_injected["http_503"] > 0 and emu.faults_injected["drop"] > 0
        assert emu.faults_injected["revoke_token"] == 1 and emu.count("/gettoken") == 2
