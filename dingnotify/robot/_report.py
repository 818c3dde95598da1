"""The report of a robot broadcast: the fan-out report plus what each call answered."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..broadcast import BroadcastReport
from ._models import RobotSendResult


@dataclass(eq=False, repr=False)
class RobotBroadcastReport(BroadcastReport[str]):
    """A ``BroadcastReport`` whose acknowledged batches carry ``processQueryKey``s
    (``process_query_keys``, the same list as ``task_ids``), with every recipient
    accounted for exactly once.

    Each unique recipient is in exactly one of: ``robot_sent_userids`` (DingTalk took the
    message for them), ``robot_invalid_userids``, ``robot_filtered_userids``,
    ``robot_throttled_userids`` (still flow-controlled after the last re-send round, or
    never re-sent because the run stopped), or the userids of a ``failed`` or ``unknown``
    batch. ``robot_results`` maps a batch index to DingTalk's answer for it.
    """

    robot_results: dict[int, RobotSendResult] = field(default_factory=dict)
    robot_throttled_userids: list[str] = field(default_factory=list)
    resend_rounds: int = 0

    @property
    def process_query_keys(self) -> list[str]:
        """Acknowledged ``processQueryKey``s, in batch order (re-send rounds included)."""
        return self.task_ids

    def _answered(self, attribute: str) -> list[str]:
        return [u for b in self.batches if (r := self.robot_results.get(b.index)) is not None
                for u in getattr(r, attribute)]

    @property
    def robot_invalid_userids(self) -> list[str]:
        """Userids DingTalk reported as not in the organisation."""
        return self._answered("invalid_userids")

    @property
    def robot_filtered_userids(self) -> list[str]:
        """Userids DingTalk's own filtering dropped."""
        return self._answered("filtered_userids")

    @property
    def robot_sent_userids(self) -> list[str]:
        """Userids of acknowledged batches that DingTalk neither rejected nor throttled."""
        sent: list[str] = []
        for batch in self.acknowledged:
            result = self.robot_results.get(batch.index)
            if result is None:  # acknowledged by an earlier, resumed run
                sent.extend(batch.userids)
                continue
            left_out = {*result.invalid_userids, *result.filtered_userids,
                        *result.throttled_userids}
            sent.extend(u for u in batch.userids if u not in left_out)
        return sent

    def __repr__(self) -> str:
        return (f"Robot{super().__repr__()[:-1]}, resend_rounds={self.resend_rounds}, "
                f"throttled={len(self.robot_throttled_userids)})")
