"""Task ids: checked going out, checked coming back, and the tasks of a report to confirm."""

from __future__ import annotations

from collections.abc import Iterable

from .._constants import PATH_ASYNCSEND
from .._errors import ResponseDecodeError, ValidationError
from ..broadcast import BroadcastReport, PendingTask

MAX_TASK_ID = 2**63 - 1


def check_task_id(task_id: object) -> int:
    """A positive task id that fits DingTalk's Long."""
    if isinstance(task_id, bool) or not isinstance(task_id, int) or not (
        0 < task_id <= MAX_TASK_ID
    ):
        raise ValidationError(f"task_id must be a positive int, got {task_id!r}")
    return task_id


def check_task_id_answer(task_id: object) -> int:
    """A task id from DingTalk's answer; anything else is a malformed response."""
    try:
        return check_task_id(task_id)
    except ValidationError:
        raise ResponseDecodeError(f"{PATH_ASYNCSEND}: answered task_id {task_id!r}") from None


def pending_tasks(tasks: Iterable[int] | BroadcastReport[int]) -> list[PendingTask]:
    """The tasks to confirm; a report's userid-only batches carry their userids."""
    if isinstance(tasks, BroadcastReport):
        return [
            PendingTask(b.task_id, b.userids if b.userids and not b.dept_ids else None)
            for b in tasks.batches if isinstance(b.task_id, int)
        ]
    return [PendingTask(check_task_id(t)) for t in tasks]
