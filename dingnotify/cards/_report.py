"""The report of a card broadcast: the fan-out report plus each card's delivery."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..broadcast import BroadcastReport
from ._models import CardDelivery


@dataclass(eq=False, repr=False)
class CardBroadcastReport(BroadcastReport[str]):
    """A ``BroadcastReport`` whose receipts are ``outTrackId``s (``out_track_ids``).

    Every unique recipient is in exactly one of ``delivered_userids``, ``failed_userids``
    (userid -> DingTalk's reason), ``resumed_userids`` (their card was acknowledged by an
    earlier run, whose answer is not here) or the userids of a ``failed`` or ``unknown``
    batch (not answered: run again with the same ``id_prefix``; DingTalk never makes a
    second card of one id). ``deliveries`` maps a batch index to its card's delivery;
    ``existed`` lists the batch indexes whose card an earlier run (or attempt) had made.
    """

    deliveries: dict[int, CardDelivery] = field(default_factory=dict)

    @property
    def out_track_ids(self) -> list[str]:
        """Acknowledged cards' ids, in batch order."""
        return self.task_ids

    @property
    def delivered_userids(self) -> list[str]:
        return [u for d in self.deliveries.values() for u in d.delivered]

    @property
    def failed_userids(self) -> dict[str, str]:
        return {u: why for d in self.deliveries.values() for u, why in d.failed.items()}

    @property
    def resumed_userids(self) -> list[str]:
        return [u for b in self.acknowledged if b.index not in self.deliveries
                for u in b.userids]

    @property
    def existed(self) -> list[int]:
        return [i for i, d in self.deliveries.items() if d.existed]

    def __repr__(self) -> str:
        return (f"Card{super().__repr__()[:-1]}, delivered={len(self.delivered_userids)}, "
                f"failed_userids={len(self.failed_userids)}, existed={len(self.existed)})")
