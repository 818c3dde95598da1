"""Fan-out: the broadcast run loop, its report, and confirming or recalling many tasks.

Nothing here speaks HTTP: the work-notification resource hands in "send one batch",
"poll one task" callables, so the fan-out can be tested and measured on its own.
"""

from ._report import Batch, BatchState, BroadcastEvent, BroadcastReport, EventKind
from ._run import AttemptHook, SendBatch, run_broadcast
from ._wait import PendingTask, ProgressHook, confirm_tasks, recall_tasks

__all__ = [
    "AttemptHook",
    "Batch",
    "BatchState",
    "BroadcastEvent",
    "BroadcastReport",
    "EventKind",
    "PendingTask",
    "ProgressHook",
    "SendBatch",
    "confirm_tasks",
    "recall_tasks",
    "run_broadcast",
]
