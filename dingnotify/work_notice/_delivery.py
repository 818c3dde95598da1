"""A broadcast followed to the end (``WorkNotice.deliver``/``settle``): its tasks confirmed,
recipients held back by DingTalk's flow control re-sent in the rounds ``broadcast`` decides
for every channel, and what all that found.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec

from .._errors import DingNotifyError
from ..broadcast import BroadcastReport, resend_throttled
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


def known_after(first: SendResult, again: BroadcastReport[int],
                confirmed: SendResult | None) -> SendResult:
    """What a resend round's failed wait leaves known: ``first`` with what the round
    ``confirmed``; users it re-sent and DingTalk accepted are no longer throttled (their
    outcome is unknown), unless the round confirmed them throttled again."""
    retried = confirmed if confirmed is not None else SendResult()
    merged = replace_throttled(first, retried)
    resent = {u for b in again.acknowledged for u in b.userids}.difference(
        retried.throttled_userids)
    return msgspec.structs.replace(
        merged, throttled_userids=[u for u in merged.throttled_userids if u not in resent])


async def follow_up(
    report: BroadcastReport[int],
    confirm: Callable[[BroadcastReport[int]], Awaitable[SendResult]],
    send_again: Callable[[list[str]], Awaitable[BroadcastReport[int]]],
    *,
    rounds: int,
    delay: float,
    on_resend: ResendHook | None = None,
) -> Delivery:
    """``confirm`` the report's tasks, then run the resend rounds: ``send_again`` the
    throttled userids (a broadcast numbered on from ``report``'s batches, which it joins)
    and ``confirm`` that. A failed ``confirm`` of a round raises with ``partial_result``
    holding every round's confirmed results (``known_after``)."""
    delivery = Delivery(report, await confirm(report))

    async def resend(userids: list[str], left: float | None) -> list[str]:
        delivery.resend_rounds += 1
        if on_resend is not None:
            on_resend(delivery.resend_rounds, userids)
        again = await send_again(userids)
        report.batches.extend(again.batches)
        report.retries += again.retries
        report.rate_limited += again.rate_limited
        try:
            retried = await confirm(again)
        except DingNotifyError as exc:
            exc.partial_result = known_after(delivery.result, again, exc.partial_result)
            raise
        delivery.result = replace_throttled(delivery.result, retried)
        return delivery.result.throttled_userids

    await resend_throttled(delivery.result.throttled_userids, resend, rounds=rounds,
                           delay=delay)
    return delivery
