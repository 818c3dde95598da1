"""Typed results of the work-notification API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec


class SendProgress(msgspec.Struct, frozen=True, kw_only=True):
    """``getsendprogress``: status 0 = not started, 1 = processing, 2 = done."""

    percent: int
    status: int

    @property
    def done(self) -> bool:
        return self.status == 2


class ForbiddenRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Why DingTalk's flow control dropped a recipient (``code``) and the limit hit (``count``).

    Every field may be missing from DingTalk's answer.
    """

    userid: str | None = None
    code: str | None = None
    count: int = 0


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    """``getsendresult`` for one task, or several tasks merged (``SendResult.merge``).

    ``throttled_userids`` were filtered by DingTalk's per-minute flow control: they got
    nothing, and sending to them again later delivers. ``forbidden_userids`` hit the other
    rules (same content today, the daily cap) and would be filtered again.

    ``poll_errors`` counts the polls of ``wait`` that failed and were tried again (0 for
    one ``get_result``): a wait that kept going through a network blip says so here.
    """

    invalid_userids: list[str] = msgspec.field(default_factory=list)
    forbidden_userids: list[str] = msgspec.field(default_factory=list)
    throttled_userids: list[str] = msgspec.field(default_factory=list)
    failed_userids: list[str] = msgspec.field(default_factory=list)
    read_userids: list[str] = msgspec.field(default_factory=list)
    unread_userids: list[str] = msgspec.field(default_factory=list)
    invalid_dept_ids: list[int] = msgspec.field(default_factory=list)
    forbidden: list[ForbiddenRecord] = msgspec.field(default_factory=list)
    poll_errors: int = 0

    @classmethod
    def merge(cls, results: Iterable[SendResult], *, poll_errors: int = 0) -> SendResult:
        """Union of every list, first occurrence kept, no duplicates; ``poll_errors`` is
        theirs summed, plus ``poll_errors``."""
        items = list(results)

        def union(name: str) -> list[Any]:
            return list(dict.fromkeys(v for r in items for v in getattr(r, name)))

        return cls(
            invalid_userids=union("invalid_userids"),
            forbidden_userids=union("forbidden_userids"),
            throttled_userids=union("throttled_userids"),
            failed_userids=union("failed_userids"),
            read_userids=union("read_userids"),
            unread_userids=union("unread_userids"),
            invalid_dept_ids=union("invalid_dept_ids"),
            forbidden=union("forbidden"),
            poll_errors=poll_errors + sum(r.poll_errors for r in items),
        )

    def accounts_for(self, userids: Iterable[str]) -> bool:
        """Whether every one of ``userids`` appears in some list: the task is settled."""
        known = set(self.invalid_userids).union(
            self.forbidden_userids, self.throttled_userids, self.failed_userids,
            self.read_userids, self.unread_userids)
        return known.issuperset(userids)

    def counts(self) -> dict[str, int]:
        """Sizes of every list, for summaries."""
        return {
            "invalid": len(self.invalid_userids),
            "forbidden": len(self.forbidden_userids),
            "throttled": len(self.throttled_userids),
            "failed": len(self.failed_userids),
            "read": len(self.read_userids),
            "unread": len(self.unread_userids),
            "invalid_depts": len(self.invalid_dept_ids),
        }
