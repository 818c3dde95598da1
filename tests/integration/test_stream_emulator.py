"""``dingnotify.stream`` against the emulator's gateway: clicks, events, reconnects,
redeliveries, duplicates and handlers that fail."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from dingnotify import DingTalkClient
from dingnotify.stream import CardAction, CardUpdate, StreamClient, StreamEvent
from dingnotify.testing import Emulator
from tests.emulated import client_for

TPL = "approval.schema"


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 (state of another component, polled)
            await asyncio.sleep(0.01)


def stream_for(emu: Emulator, **kw: Any) -> StreamClient:
    kw.setdefault("heartbeat", 1.0)
    kw.setdefault("backoff", (0.05, 0.5))
    return StreamClient(emu.app.app_key, emu.app.app_secret, api_base_url=emu.url, **kw)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        emulator.add_card_template(TPL, ["title", "status", "clicks", "mine"])
        emulator.gateway.redeliver_after = 1.0
        emulator.gateway.disconnect_grace = 0.5
        yield emulator


async def deliver(emu: Emulator, *ids: str) -> None:
    client: DingTalkClient = client_for(emu, api_base_url=emu.url, robot_code=emu.robot_code)
    async with client:
        for out_track_id in ids:
            await client.cards.deliver(TPL, out_track_id=out_track_id, data={"title": "t"},
                                       open_conversation_id="cid-team==")


async def test_a_click_is_answered_with_the_handlers_update(emu: Emulator) -> None:
    await deliver(emu, "order-42")
    stream = stream_for(emu)
    seen: list[CardAction] = []

    @stream.on_card_action
    async def clicked(action: CardAction) -> CardUpdate:
        seen.append(action)
        return CardUpdate(data={"status": f"approved by {action.userid}"},
                          private_data={"mine": True})

    async with stream:
        response = await emu.click("order-42", "u000001", "approve", {"amount": 1200})
    assert response == {"cardData": {"cardParamMap": {"status": "approved by u000001"}},
                        "userPrivateData": {"cardParamMap": {"mine": "true"}},
                        "cardUpdateOptions": {"updateCardDataByKey": True,
                                              "updatePrivateDataByKey": True}}
    [action] = seen
    assert (action.out_track_id, action.userid, action.action_ids, action.params) == (
        "order-42", "u000001", ["approve"], {"amount": 1200})
    assert action.corp_id == emu.gateway.corp_id and action.space_id == "cid-team=="
    assert emu.card_view("order-42", "u000001") == {
        "title": "t", "status": "approved by u000001", "mine": "true"}
    assert emu.card_view("order-42", "u000002")["status"] == "approved by u000001"
    assert emu.gateway.callbacks[0].applied
    assert stream.stats.frames_acked >= 1 and stream.stats.connects == 1


async def test_events_reach_their_handlers_and_are_acked_success(emu: Emulator) -> None:
    stream = stream_for(emu)
    titles: list[StreamEvent] = []
    every: list[str] = []

    @stream.on_event("chat_update_title")
    async def title(event: StreamEvent) -> None:
        titles.append(event)

    @stream.on_event("*")
    async def anything(event: StreamEvent) -> None:
        every.append(event.event_type)

    async with stream:
        await until(lambda: bool(emu.gateway.connections))
        pushed = await emu.push_event("chat_update_title", {"title": "New name"})
        await emu.push_event("user_add_org", {"userId": ["u9"]})
        await until(lambda: len(every) == 2)
    assert pushed.code == 200 and pushed.answer == {"status": "SUCCESS", "message": "success"}
    assert [e.data for e in titles] == [{"title": "New name"}]
    assert titles[0].corp_id == emu.gateway.corp_id and titles[0].event_id
    assert sorted(every) == ["chat_update_title", "user_add_org"]


async def test_pings_are_answered_and_bad_credentials_back_off_quietly(
        emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    emu.gateway.ping_interval = 0.05
    async with stream_for(emu):
        await until(lambda: bool(emu.gateway.connections)
                    and emu.gateway.connections[0].pongs >= 2)
    caplog.set_level(logging.DEBUG, "dingnotify.stream")
    wrong = StreamClient(emu.app.app_key, "wrong-secret-XYZ", api_base_url=emu.url,
                         backoff=(0.01, 0.02))
    async with wrong:
        await until(lambda: wrong.stats.state == "backoff")
        await asyncio.sleep(0.1)
    assert wrong.stats.connects == 0
    assert "wrong-secret-XYZ" not in caplog.text and "wrong-secret-XYZ" not in repr(wrong)


async def test_1000_clicks_of_50_users_through_a_disconnect_and_a_silent_link(
        emu: Emulator) -> None:
    cards = [f"card-{n}" for n in range(20)]
    await deliver(emu, *cards)
    emu.gateway.duplicate_ratio = 0.1
    stream = stream_for(emu)
    handled: Counter[str] = Counter()

    @stream.on_card_action
    async def clicked(action: CardAction) -> CardUpdate:
        handled[action.message_id] += 1
        return CardUpdate(data={"clicks": action.params["n"]},
                          private_data={"status": f"seen by {action.userid}"})

    done = 0
    gate = asyncio.Semaphore(40)

    async def click(n: int) -> dict[str, Any] | None:
        nonlocal done
        async with gate:
            answer = await emu.click(cards[n % 20], f"u{n % 50 + 1:06d}", "ok", {"n": n},
                                     timeout=30)
        done += 1
        return answer

    async with stream:
        clicks = [asyncio.create_task(click(n)) for n in range(1000)]
        await until(lambda: done >= 300, 30)
        await emu.gateway.disconnect()
        await until(lambda: done >= 600, 30)
        emu.gateway.go_silent()
        answers = await asyncio.wait_for(asyncio.gather(*clicks), 60)
        await asyncio.sleep(0.2)  # duplicates pushed after the last ack
    assert all(a is not None and a["userPrivateData"]["cardParamMap"]["status"].startswith(
        "seen by u") for a in answers)
    assert len(handled) == 1000 and set(handled.values()) == {1}
    assert stream.stats.reconnects >= 2 and stream.stats.connects >= 3
    assert stream.stats.frames_duplicated >= 1
    assert emu.gateway.redeliveries >= 1  # the frames the silent link swallowed
    assert {c.code for c in emu.gateway.callbacks} == {200}


async def test_a_raising_or_hanging_handler_does_not_stop_the_others(emu: Emulator) -> None:
    await deliver(emu, "c-1")
    stream = stream_for(emu, card_timeout=0.3, concurrency=4)

    @stream.on_card_action
    async def clicked(action: CardAction) -> CardUpdate | None:
        if action.userid == "u000001":
            raise RuntimeError("handler bug")
        if action.userid == "u000002":
            await asyncio.sleep(3600)
        return CardUpdate(data={"status": action.userid})

    async with stream:
        answers = await asyncio.wait_for(asyncio.gather(
            *(emu.click("c-1", f"u{n % 10 + 1:06d}", "ok", timeout=10) for n in range(40))),
            20)
    assert answers[0] is None and answers[1] is None  # raised, hung: answered with 500
    assert all(a is not None for n, a in enumerate(answers) if n % 10 not in (0, 1))
    codes = Counter(c.code for c in emu.gateway.callbacks)
    assert codes == {200: 32, 500: 8}
    assert stream.stats.handler_errors == 4 and stream.stats.handler_timeouts == 4
    assert stream.stats.connects == 1
