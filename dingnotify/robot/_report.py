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
    never re-sent because the run stopped), ``robot_unconfirmed_userids`` (acknowledged, or
    maybe sent, with DingTalk's answer for them unknown: never counted as sent, never sent
    again), or the userids of a ``failed`` or ``unknown`` batch. ``robot_results`` maps a
    batch index to DingTalk's answer for it.

    A resumed run (``acknowledged=``) has no answer for the batches an earlier run got
    acknowledged: their users are ``robot_unconfirmed_userids`` unless the caller restores
    the answers into ``robot_results`` (the CLI's journal does). ``robot_resumed_unknown``
    holds the users an earlier run's re-send rounds left with an unknown outcome (a re-send
    batch that may have been sent, or acknowledged with no answer kept); they are taken out
    of every other list.
    """

    robot_results: dict[int, RobotSendResult] = field(default_factory=dict)
    robot_throttled_userids: list[str] = field(default_factory=list)
    resend_rounds: int = 0
    robot_resumed_unknown: list[str] = field(default_factory=list)

    @property
    def process_query_keys(self) -> list[str]:
        """Acknowledged ``processQueryKey``s, in batch order (re-send rounds included)."""
        return self.task_ids

    def _answered(self, attribute: str) -> list[str]:
        unknown = set(self.robot_resumed_unknown)
        return [u for b in self.batches if (r := self.robot_results.get(b.index)) is not None
                for u in getattr(r, attribute) if u not in unknown]

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
        """Userids of acknowledged batches whose answer DingTalk gave (this run, or an
        earlier one restored) and that it neither rejected nor throttled."""
        sent: list[str] = []
        unknown = set(self.robot_resumed_unknown)
        for batch in self.acknowledged:
            result = self.robot_results.get(batch.index)
            if result is None:  # acknowledged by an earlier run, answer not kept
                continue
            left_out = {*result.invalid_userids, *result.filtered_userids,
                        *result.throttled_userids, *unknown}
            sent.extend(u for u in batch.userids if u not in left_out)
        return sent

    @property
    def robot_unconfirmed_userids(self) -> list[str]:
        """Acknowledged-but-unknown-outcome users: of batches acknowledged by an earlier
        run whose answer was not kept, and ``robot_resumed_unknown``. They may have been
        sent the message; they are not counted as sent and not sent again."""
        ids = [u for b in self.acknowledged if b.index not in self.robot_results
               for u in b.userids]
        return [*ids, *self.robot_resumed_unknown]

    def __repr__(self) -> str:
        return (f"Robot{super().__repr__()[:-1]}, resend_rounds={self.resend_rounds}, "
                f"throttled={len(self.robot_throttled_userids)}, "
                f"unconfirmed={len(self.robot_unconfirmed_userids)})")
