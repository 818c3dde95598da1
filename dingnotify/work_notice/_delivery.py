"""What ``WorkNotice.deliver`` found: the broadcast, its merged result, the resend rounds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from ..broadcast import BroadcastReport
from ._models import SendResult

ResendHook = Callable[[int, list[str]], None]
"""Called before each resend round: (round number from 1, the userids about to be re-sent)."""


@dataclass(eq=False)
class Delivery:
    """A broadcast followed to the end: every task confirmed, throttled recipients re-sent.

    ``report`` is the broadcast's report; the batches of the resend rounds follow its own,
    numbered on from them, so ``report.task_ids`` lists every task. ``result`` is every
    task's ``SendResult`` merged, a throttled recipient replaced by what its last re-send
    found: ``result.throttled_userids`` are those still held back after ``resend_rounds``
    rounds.
    """

    report: BroadcastReport[int]
    result: SendResult
    resend_rounds: int = 0

    @property
    def throttled_userids(self) -> list[str]:
        """Recipients DingTalk's flow control still held back after the last round."""
        return self.result.throttled_userids


def replace_throttled(first: SendResult, retried: SendResult) -> SendResult:
    """``first`` with its throttled recipients replaced by what a re-send found."""
    merged = SendResult.merge([first, retried])
    settled = {*retried.read_userids, *retried.unread_userids, *retried.forbidden_userids,
               *retried.invalid_userids, *retried.failed_userids}
    return msgspec.structs.replace(
        merged, throttled_userids=[u for u in merged.throttled_userids if u not in settled])
