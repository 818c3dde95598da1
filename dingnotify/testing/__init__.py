"""Offline DingTalk for tests and benchmarks: an aiohttp server speaking the real wire format.

It is an independent reading of DingTalk's documentation and never imports the client, so a
wire bug in the SDK cannot hide behind the same bug here::

    async with Emulator(profile="standard") as emu:
        client = DingTalkClient(emu.app.app_key, emu.app.app_secret,
                                agent_id=emu.app.agent_id, base_url=emu.url)

``MockTransport`` answers the client's requests with a function of yours, for unit tests
without a server. ``pytest_plugins = ["dingnotify.testing.plugin"]`` provides
``dingtalk_emulator`` and ``dingtalk_client`` fixtures; ``python -m dingnotify.testing``
runs it as a process.
"""

from ._app import Emulator
from ._card_state import CardInstance, CardState, CardTemplate
from ._clock import ManualClock, day_key, month_key
from ._core import CrossdomainMessage, TopMessage
from ._delivery import FORBID_FLOW_CONTROL, ForbiddenRecord, InboxMessage, Task
from ._faults import Fault, FaultPlan
from ._gateway import CardCallback, Gateway, Pushed
from ._handlers_webhook import GroupRobot, webhook_sign
from ._mock import MockRequest, MockResponse, MockTransport
from ._org import App, Dept, Org, User
from ._ratelimit import RateLimits
from ._recording import RecordedRequest
from ._robot_state import RobotInboxMessage, RobotSend
from ._sign import top_sign

__all__ = [
    "FORBID_FLOW_CONTROL",
    "App",
    "CardCallback",
    "CardInstance",
    "CardState",
    "CardTemplate",
    "CrossdomainMessage",
    "Dept",
    "Emulator",
    "Fault",
    "FaultPlan",
    "ForbiddenRecord",
    "Gateway",
    "GroupRobot",
    "InboxMessage",
    "ManualClock",
    "MockRequest",
    "MockResponse",
    "MockTransport",
    "Org",
    "Pushed",
    "RateLimits",
    "RecordedRequest",
    "RobotInboxMessage",
    "RobotSend",
    "Task",
    "TopMessage",
    "User",
    "day_key",
    "month_key",
    "top_sign",
    "webhook_sign",
]
