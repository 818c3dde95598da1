"""Issue 25, item 1: a batch acknowledged by an earlier run, whose answer is not known, is
acknowledged-but-unconfirmed, never "sent"; each user is in exactly one bucket."""

from __future__ import annotations

from dingnotify.broadcast import Batch
from dingnotify.robot import RobotBroadcastReport, RobotSendResult


def test_acknowledged_without_answer_is_unconfirmed_not_sent() -> None:
    report = RobotBroadcastReport()
    report.batches = [Batch(0, ("a", "b"), (), task_id="k0"),
                      Batch(1, ("c", "d", "e"), (), task_id="k1")]
    report.robot_results[1] = RobotSendResult(process_query_key="k1", invalid_userids=["d"])
    report.robot_resumed_unknown = ["e"]
    assert report.robot_sent_userids == ["c"]
    assert report.robot_invalid_userids == ["d"]
    assert report.robot_unconfirmed_userids == ["a", "b", "e"]
    assert "unconfirmed=3" in repr(report)
