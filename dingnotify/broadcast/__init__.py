"""Fan-out: the broadcast run loop, its report, resend rounds, and confirming or recalling
many tasks.

Nothing here speaks HTTP or knows a channel: a channel hands in "send one batch", "poll one
task" and "send these userids again" callables, so the fan-out can be tested and measured
on its own. The records are generic in the receipt a channel's call answers with.
"""

from ._report import Batch, BatchState, BroadcastEvent, BroadcastReport, EventKind
from ._resend import Resend, Resent, check_resend, resend_throttled
from ._run import AttemptHook, EventHook, SendBatch, run_broadcast
from ._wait import (
    PendingTask,
    PollErrorHook,
    ProgressHook,
    confirm_tasks,
    recall_tasks,
)

__all__ = [
    "AttemptHook",
    "Batch",
    "BatchState",
    "BroadcastEvent",
    "BroadcastReport",
    "EventHook",
    "EventKind",
    "PendingTask",
    "PollErrorHook",
    "ProgressHook",
    "Resend",
    "Resent",
    "SendBatch",
    "check_resend",
    "confirm_tasks",
    "recall_tasks",
    "resend_throttled",
    "run_broadcast",
]
