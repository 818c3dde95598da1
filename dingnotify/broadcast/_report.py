"""What a broadcast did, batch by batch: the records a caller and a journal read.

The records are generic in ``K``, the receipt a channel's call answers with (a work
notification's ``int`` task id, a robot's ``str`` ``processQueryKey``); ``K`` defaults to
``int``, so ``BroadcastReport()`` is the report ``client.work_notice.broadcast`` fills.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Generic, Literal

if sys.version_info >= (3, 13):
    from typing import TypeVar
else:
    from typing_extensions import TypeVar

BatchState = Literal["pending", "acknowledged", "failed", "unknown"]
EventKind = Literal["sent", "failed", "retry", "rejected", "skipped"]
K = TypeVar("K", default=int)
"""The receipt of one acknowledged call: a task id, a ``processQueryKey``, ..."""


@dataclass(eq=False, slots=True)
class Batch(Generic[K]):
    """One call of a broadcast, in input order.

    ``state`` is ``acknowledged`` (DingTalk answered with a receipt, ``task_id``),
    ``failed`` (certainly not sent), ``unknown`` (the request may have reached DingTalk but
    no answer came: send it again and DingTalk's same-content rule drops the repeat) or
    ``pending``.

    ``userid_list`` is ``userids`` comma-joined when the check already joined exactly them
    (the body need not join again); it is dropped once the batch has been sent, so the
    report keeps only the tuple.
    """

    index: int
    userids: tuple[str, ...]
    dept_ids: tuple[int, ...]
    task_id: K | None = None
    error: BaseException | None = None
    attempts: int = 0
    in_flight: bool = False
    maybe_sent: bool = False
    userid_list: str | None = field(default=None, init=False, repr=False)

    @property
    def state(self) -> BatchState:
        if self.task_id is not None:
            return "acknowledged"
        if self.error is None:
            return "pending"
        return "unknown" if self.maybe_sent else "failed"

    def started(self) -> None:
        """An attempt's request is about to be written."""
        self.attempts += 1
        self.in_flight = True

    def ended(self, error: BaseException | None) -> None:
        """An attempt ended; an answerless one may have reached DingTalk."""
        self.in_flight = False
        if error is not None and getattr(error, "maybe_sent", False):
            self.maybe_sent = True

    def close_out(self, error: BaseException) -> None:
        """The run stopped before this batch was answered."""
        if self.in_flight:
            self.maybe_sent = True
        self.in_flight = False
        self.error = error

    def __repr__(self) -> str:
        return (
            f"Batch(index={self.index}, userids={len(self.userids)}, "
            f"dept_ids={len(self.dept_ids)}, task_id={self.task_id}, state={self.state!r})"
        )


@dataclass(frozen=True, slots=True)
class BroadcastEvent(Generic[K]):
    """Progress: a batch sent, failed, retried or skipped (resumed), or an input rejected."""

    kind: EventKind
    report: BroadcastReport[K]
    batch: Batch[K] | None = None
    error: BaseException | None = None
    delay: float = 0.0
    value: object = None


@dataclass(eq=False)
class BroadcastReport(Generic[K]):
    """What happened to every batch. ``complete`` is False after a deadline, a cancel or a
    stop (``stopped_by``, e.g. the monthly quota running out).

    A channel's report may add its own fields (``RobotBroadcastReport``); this one is what
    ``client.work_notice.broadcast`` returns, its receipts ``int`` task ids.
    """

    batches: list[Batch[K]] = field(default_factory=list)
    rejected: list[tuple[object, str]] = field(default_factory=list)
    recipients: int = 0
    retries: int = 0
    rate_limited: int = 0
    complete: bool = False
    timed_out: bool = False
    cancelled: bool = False
    stopped_by: BaseException | None = None
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def task_ids(self) -> list[K]:
        """The receipts of acknowledged batches (task ids), in batch order."""
        return [b.task_id for b in self.batches if b.task_id is not None]

    @property
    def acknowledged(self) -> list[Batch[K]]:
        return [b for b in self.batches if b.task_id is not None]

    @property
    def failed(self) -> list[Batch[K]]:
        """Batches certainly not sent."""
        return [b for b in self.batches if b.state == "failed"]

    @property
    def unknown(self) -> list[Batch[K]]:
        """Batches that may have been sent: re-send them (DingTalk drops repeats)."""
        return [b for b in self.batches if b.state == "unknown"]

    @property
    def elapsed(self) -> float:
        end = self.finished_at or time.monotonic()
        return end - self.started_at if self.started_at else 0.0

    def __repr__(self) -> str:
        return (
            f"BroadcastReport(batches={len(self.batches)}, acknowledged={len(self.acknowledged)},"
            f" failed={len(self.failed)}, unknown={len(self.unknown)}, "
            f"recipients={self.recipients}, complete={self.complete})"
        )
