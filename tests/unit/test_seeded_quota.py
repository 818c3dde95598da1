"""``work_notice.SEND_API`` names the calls sends make (the path: ``Call.api``); recipients
recorded under it, as a resumed journal does, hold back the next send until their minute
has passed: it raises at its deadline without sending."""

from __future__ import annotations

import pytest

import dingnotify
from dingnotify import Quota, Text
from dingnotify.work_notice import SEND_API
from tests.conftest import SEND, Scripted, client_with, ok


async def test_recipients_recorded_under_send_api_hold_back_the_next_send(
    wire: Scripted,
) -> None:
    wire.route(SEND, ok(task_id=1))
    quota = Quota(recipients_per_minute=1000)
    async with client_with(wire, quota=quota) as c:
        governor = c.governor
        assert isinstance(governor, dingnotify.Governor)
        assert await c.work_notice.send(Text(content="x"), userids=["u1"]) == 1
        governor.record(SEND_API, quota.recipients_per_minute, age=5.0)
        with pytest.raises(dingnotify.RequestTimeoutError):
            await c.work_notice.send(Text(content="x"), userids=["u2"],
                                     retry=dingnotify.RetryPolicy(deadline=0.3))
    assert [r.json["userid_list"] for r in wire.sent(SEND)] == ["u1"]
    assert wire.sent(SEND)[0].url.path == SEND_API
