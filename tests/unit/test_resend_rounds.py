"""The resend rounds every channel shares (``broadcast.resend_throttled``), and the fan-out
records being generic in the receipt a channel answers with."""

from __future__ import annotations

import time

import pytest

from dingnotify import BroadcastReport, ValidationError
from dingnotify.broadcast import Batch, check_resend, resend_throttled
from dingnotify.robot import RobotBroadcastReport


class Held:
    """Holds back the first ``hold`` userids of each round; records every round."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.rounds: list[tuple[list[str], float | None]] = []

    async def __call__(self, userids: list[str], timeout: float | None) -> list[str]:
        self.rounds.append((userids, timeout))
        return userids[: self.hold]


async def test_rounds_run_until_nobody_is_held_back() -> None:
    resend = Held(hold=0)
    done = await resend_throttled(["a", "b"], resend, rounds=3, delay=0)
    assert (done.rounds, done.throttled, resend.rounds) == (1, [], [(["a", "b"], None)])


async def test_rounds_stop_after_the_number_asked_for() -> None:
    resend = Held(hold=1)
    done = await resend_throttled(["a", "b"], resend, rounds=2, delay=0.01)
    assert done.rounds == 2 and done.throttled == ["a"]
    assert [ids for ids, _ in resend.rounds] == [["a", "b"], ["a"]]


async def test_no_rounds_and_nobody_held_back_send_nothing() -> None:
    resend = Held(hold=0)
    assert (await resend_throttled(["a"], resend, rounds=0, delay=0)).throttled == ["a"]
    assert (await resend_throttled([], resend, rounds=3, delay=0)).rounds == 0
    assert resend.rounds == []


async def test_a_deadline_leaving_no_time_after_the_delay_ends_the_rounds() -> None:
    resend = Held(hold=1)
    done = await resend_throttled(["a"], resend, rounds=5, delay=10,
                                  deadline=time.monotonic() + 5)
    assert done.rounds == 0 and resend.rounds == []
    deadline = time.monotonic() + 30
    done = await resend_throttled(["a"], resend, rounds=1, delay=0, deadline=deadline)
    [(_, timeout)] = resend.rounds
    assert timeout is not None and 29 < timeout <= 30


async def test_go_on_false_stops_before_the_next_round() -> None:
    resend = Held(hold=1)
    done = await resend_throttled(["a"], resend, rounds=5, delay=0,
                                  go_on=lambda: len(resend.rounds) < 2)
    assert done.rounds == 2


@pytest.mark.parametrize(("rounds", "delay"), [(-1, 0), (1.5, 0), (True, 0), (1, -0.1),
                                               (1, float("inf")), (1, "5")])
def test_bad_rounds_or_delay(rounds: object, delay: object) -> None:
    with pytest.raises(ValidationError):
        check_resend(rounds, delay)


def test_reports_hold_the_receipt_of_their_channel() -> None:
    notice = BroadcastReport()
    notice.batches += [Batch(0, ("u1",), (), task_id=7), Batch(1, ("u2",), ()),
                       Batch(2, ("u3",), (), task_id=9)]
    assert notice.task_ids == [7, 9] and not hasattr(notice, "process_query_keys")
    robot = RobotBroadcastReport()
    robot.batches += [Batch(0, ("u1",), (), task_id="k1"), Batch(1, ("u2",), ())]
    assert robot.task_ids == robot.process_query_keys == ["k1"]
    assert isinstance(robot, BroadcastReport)
