"""``work_notice.deliver``: broadcast, wait, and re-send what DingTalk's per-minute flow
control held back, against the emulator's recipients-per-minute window.

The client sets no quota, so the emulator's window filters the excess (DingTalk answers
success and delivers nothing; the result lists the recipients as throttled). A warped
clock lets a minute pass in a few real seconds.
"""

from __future__ import annotations

import time

import pytest

from dingnotify import (
    DEFAULT_RESEND_DELAY,
    DEFAULT_RESEND_ROUNDS,
    BroadcastReport,
    Text,
    ValidationError,
)
from dingnotify.testing import Emulator, Org, RateLimits
from tests.emulated import client_for

SEND = "/topapi/message/corpconversation/asyncsend_v2"
LIMITS = RateLimits(recipients_per_minute=1_000)


class Warp:
    """A clock running ``factor`` times faster than real time."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self._start = time.monotonic()

    def __call__(self) -> float:
        return self._start + (time.monotonic() - self._start) * self.factor


def inbox_sizes(emu: Emulator, userids: list[str]) -> dict[str, int]:
    return {u: len(emu.inboxes.get(u, [])) for u in userids}


async def test_throttled_recipients_are_resent_once_the_minute_has_passed() -> None:
    warp = Warp(20)
    org = Org.synthetic(n_users=1_500)
    users = list(org.users)
    rounds: list[tuple[int, int]] = []
    async with Emulator(org=org, profile=LIMITS, monotonic=warp) as emu, \
            client_for(emu) as client:
        report = BroadcastReport()
        delivery = await client.work_notice.deliver(
            Text(content="once"), userids=[*users, "ghost"], report=report,
            resend_rounds=3, resend_delay=61 / warp.factor, poll_interval=0.05,
            wait_timeout=10, on_resend=lambda n, ids: rounds.append((n, len(ids))))
        assert delivery.report is report
        assert rounds == [(1, 500)] and delivery.resend_rounds == 1
        assert delivery.throttled_userids == [] == delivery.result.throttled_userids
        assert inbox_sizes(emu, users) == dict.fromkeys(users, 1)  # everyone, exactly once
        assert delivery.result.invalid_userids == ["ghost"]
        assert sorted(delivery.result.read_userids + delivery.result.unread_userids) == \
            sorted(users)
        assert [b.index for b in report.batches] == list(range(21))  # 16 + 5 numbered on
        assert sorted(report.task_ids) == sorted(emu.tasks) and emu.count(SEND) == 21
        resent = {u for b in report.batches[16:] for u in b.userids}
        assert len(resent) == 500 and resent <= set(users)


async def test_resend_stops_after_the_rounds_asked_for() -> None:
    org = Org.synthetic(n_users=1_500)
    users = list(org.users)
    rounds: list[tuple[int, list[str]]] = []
    async with Emulator(org=org, profile=LIMITS) as emu, client_for(emu) as client:
        delivery = await client.work_notice.deliver(
            Text(content="held"), userids=users, resend_rounds=2, resend_delay=0,
            poll_interval=0.05, wait_timeout=10,
            on_resend=lambda n, ids: rounds.append((n, ids)))
        assert [n for n, _ in rounds] == [1, 2] and delivery.resend_rounds == 2
        held = delivery.throttled_userids
        assert len(held) == 500 and rounds[0][1] == rounds[1][1] == held
        assert emu.count(SEND) == 15 + 5 + 5  # the same minute: held back every round
        sizes = inbox_sizes(emu, users)
        assert all(sizes[u] == (u not in set(held)) for u in users)
        assert len(delivery.report.task_ids) == 25


async def test_no_rounds_means_one_broadcast_and_its_result() -> None:
    org = Org.synthetic(n_users=1_200)
    async with Emulator(org=org, profile=LIMITS) as emu, client_for(emu) as client:
        delivery = await client.work_notice.deliver(
            Text(content="plain"), userids=list(org.users), resend_rounds=0,
            poll_interval=0.05, wait_timeout=10)
        assert delivery.resend_rounds == 0 and len(delivery.throttled_userids) == 200
        assert emu.count(SEND) == 12


async def test_nothing_throttled_sends_nothing_more() -> None:
    org = Org.synthetic(n_users=300)
    async with Emulator(org=org) as emu, client_for(emu) as client:
        delivery = await client.work_notice.deliver(
            Text(content="calm"), userids=list(org.users), poll_interval=0.05)
        assert delivery.resend_rounds == 0 and delivery.throttled_userids == []
        assert emu.count(SEND) == 3


@pytest.mark.parametrize("kw", [{"resend_rounds": -1}, {"resend_rounds": True},
                                {"resend_delay": float("nan")}, {"resend_delay": -1.0}])
async def test_bad_resend_arguments_send_nothing(kw: dict[str, object]) -> None:
    async with Emulator() as emu, client_for(emu) as client:
        with pytest.raises(ValidationError):
            await client.work_notice.deliver(Text(content="x"), userids=["u000001"],
                                             **kw)  # type: ignore[arg-type]
        assert emu.count(SEND) == 0


def test_one_default_for_every_channel() -> None:
    import inspect

    from dingnotify.robot import Robot
    from dingnotify.work_notice import WorkNotice

    for method in (WorkNotice.deliver, WorkNotice.settle, Robot.broadcast):
        params = inspect.signature(method).parameters
        assert params["resend_rounds"].default == DEFAULT_RESEND_ROUNDS
        assert params["resend_delay"].default == DEFAULT_RESEND_DELAY
    assert DEFAULT_RESEND_ROUNDS * DEFAULT_RESEND_DELAY >= 60  # spans DingTalk's minute
