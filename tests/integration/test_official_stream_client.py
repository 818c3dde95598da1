"""DingTalk's own Stream client (``dingtalk-stream``) against the emulator's gateway: the
emulator speaks the protocol as DingTalk's client expects it.

The official client posts with blocking ``requests`` and never lets itself be cancelled,
so it runs on an event loop of its own in a daemon thread, stopped from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import pytest

from dingnotify.testing import Emulator
from tests.emulated import client_for

dingtalk_stream = pytest.importorskip("dingtalk_stream")
TPL = "official.schema"


def run_official(emu: Emulator, received: list[Any]) -> tuple[threading.Thread, Any]:
    from dingtalk_stream import AckMessage, CallbackHandler, Credential, DingTalkStreamClient
    from dingtalk_stream.card_callback import CardCallbackMessage

    class Clicked(CallbackHandler):  # type: ignore[misc]
        async def process(self, message: Any) -> tuple[int, dict[str, Any]]:
            received.append(CardCallbackMessage.from_dict(message.data))
            return AckMessage.STATUS_OK, {
                "cardData": {"cardParamMap": {"status": "approved"}},
                "cardUpdateOptions": {"updateCardDataByKey": True}}

    client = DingTalkStreamClient(Credential(emu.app.app_key, emu.app.app_secret))
    client.register_callback_handler(CallbackHandler.TOPIC_CARD_CALLBACK, Clicked())
    loop = asyncio.new_event_loop()

    def serve() -> None:
        with contextlib.suppress(RuntimeError):  # stopped from outside
            loop.run_until_complete(client.start())
        for _ in range(3):  # it catches one cancel (and sleeps): cancel until it is gone
            tasks = asyncio.all_tasks(loop)
            if not tasks:
                break
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.wait(tasks, timeout=2))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, loop


async def test_the_official_client_receives_a_card_callback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dingtalk_stream import DingTalkStreamClient

    async with Emulator() as emu:
        emu.add_card_template(TPL, ["status"])
        async with client_for(emu, api_base_url=emu.url, robot_code=emu.robot_code) as c:
            await c.cards.deliver(TPL, out_track_id="o-1", data={"status": "open"},
                                  userids=["u000001"])
        monkeypatch.setattr(DingTalkStreamClient, "OPEN_CONNECTION_API",
                            emu.url + "/v1.0/gateway/connections/open")
        received: list[Any] = []
        thread, loop = run_official(emu, received)
        try:
            response = await emu.click("o-1", "u000001", "approve", {"action": "accept"},
                                       timeout=20)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join, 5)
    [message] = received
    assert (message.card_instance_id, message.user_id, message.corp_id) == (
        "o-1", "u000001", emu.gateway.corp_id)
    assert message.content == {"cardPrivateData": {"actionIds": ["approve"],
                                                   "params": {"action": "accept"}}}
    assert response == {"cardData": {"cardParamMap": {"status": "approved"}},
                        "cardUpdateOptions": {"updateCardDataByKey": True}}
    assert emu.card_view("o-1", "u000001") == {"status": "approved"}
