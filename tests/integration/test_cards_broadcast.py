"""``client.cards.broadcast`` against the emulator: accounting, quota, kill and resume."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from dingnotify import DingTalkClient, Quota, ValidationError
from dingnotify.broadcast import BroadcastEvent
from dingnotify.cards import CardBroadcastReport
from dingnotify.testing import Emulator, Org
from tests.emulated import client_for

TPL = "notice.schema"
DELIVER = "/v1.0/card/instances/createAndDeliver"


def cards_client(emu: Emulator, **kw: Any) -> DingTalkClient:
    return client_for(emu, api_base_url=emu.url, robot_code=emu.robot_code, **kw)


def cards_per_user(emu: Emulator) -> Counter[str]:
    return Counter(ident for card in emu.cards.cards.values()
                   for kind, ident in card.delivered_to if kind == "IM_ROBOT")


async def test_10000_recipients_with_no_rate_limit_answer_and_everyone_accounted() -> None:
    org = Org.synthetic(n_users=10_000)
    users = [f"u{i:06d}" for i in range(1, 10_001)] + ["gone-1", "gone-2", "u000001"]
    async with Emulator(org=org, profile="standard") as emu:
        emu.add_card_template(TPL, ["title"])
        async with cards_client(emu, quota=Quota.standard()) as client:
            client.cards.qps = 20
            report = await client.cards.broadcast(TPL, data={"title": "Office closed"},
                                                  userids=iter(users), id_prefix="n-2026",
                                                  size=50)
        assert report.complete and report.rate_limited == 0
        assert emu.robot.throttled.total() == 0
        assert len(report.batches) == 201 and emu.count(DELIVER) == 201
        assert report.out_track_ids[:2] == ["n-2026-0", "n-2026-1"]
        assert report.failed_userids == {"gone-1": "userId not exist",
                                         "gone-2": "userId not exist"}
        assert len(report.delivered_userids) == 10_000
        assert set(report.delivered_userids) | set(report.failed_userids) == set(users)
        assert cards_per_user(emu) == Counter(users[:10_000])


async def test_a_killed_broadcast_resumed_with_the_same_prefix_delivers_no_card_twice(
) -> None:
    users = [f"u{i:06d}" for i in range(1, 201)]
    async with Emulator() as emu:
        emu.add_card_template(TPL, ["title"])
        async with cards_client(emu) as client:
            first = CardBroadcastReport()
            sent = asyncio.Event()

            def on_event(event: BroadcastEvent[str]) -> None:
                if event.kind == "sent" and len(first.acknowledged) >= 7:
                    sent.set()

            run = asyncio.create_task(client.cards.broadcast(
                TPL, data={"title": "t"}, userids=users, id_prefix="k", size=10,
                concurrency=2, report=first, on_event=on_event))
            await asyncio.wait_for(sent.wait(), 10)
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run
            assert first.cancelled and 7 <= len(first.acknowledged) < 20
            resumed = await client.cards.broadcast(TPL, data={"title": "t"}, userids=users,
                                                   id_prefix="k", size=10, concurrency=2)
        assert resumed.complete
        assert len(resumed.existed) >= len(first.acknowledged)
        assert sorted(resumed.delivered_userids) == users
        assert cards_per_user(emu) == Counter(users)
        assert len(emu.cards.cards) == 20


async def test_broadcast_refuses_bad_input_before_sending() -> None:
    async with Emulator() as emu:
        async with cards_client(emu) as client:
            for bad in (dict(userids=[]), dict(userids=["u1"], size=0),
                        dict(userids=["u1"], id_prefix="")):
                options: dict[str, Any] = {"id_prefix": "p", **bad}
                with pytest.raises(ValidationError):
                    await client.cards.broadcast(TPL, data={"title": "t"}, **options)
        assert emu.count(DELIVER) == 0
