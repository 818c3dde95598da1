"""Resend rounds: recipients DingTalk's per-minute flow control held back, sent again.

It knows no channel: the channel hands in ``resend``, which sends some userids once (a
broadcast, and for work notifications the wait for its result) and returns those held back
again. The decision (how many rounds, how long between them, when to stop) is made here
for every channel.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import anyio

from .._errors import ValidationError

Resend: TypeAlias = Callable[[list[str], float | None], Awaitable[Sequence[str]]]
"""``resend(userids, timeout)``: send ``userids`` again, within ``timeout`` seconds when it
is not None, and return the ones DingTalk's flow control held back again."""


@dataclass(frozen=True, slots=True)
class Resent:
    """What the rounds did: how many ran, who is still held back after the last, and
    whether the deadline cut them short (rounds were left and users held back, but no time
    for the delay)."""

    rounds: int
    throttled: list[str]
    timed_out: bool = False


def check_resend(rounds: object, delay: object) -> None:
    """``rounds`` an int >= 0, ``delay`` a finite number of seconds >= 0."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ValidationError("resend_rounds must be an int >= 0")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or \
            not 0 <= delay < math.inf:
        raise ValidationError("resend_delay must be a finite number of seconds >= 0")


async def resend_throttled(
    throttled: Sequence[str],
    resend: Resend,
    *,
    rounds: int,
    delay: float,
    deadline: float | None = None,
    go_on: Callable[[], bool] | None = None,
) -> Resent:
    """Re-send ``throttled`` after ``delay`` seconds, then those held back again, for at most
    ``rounds`` rounds.

    Stops early when nobody is held back, when ``go_on()`` says so (the last round was cut
    short), or when the ``deadline`` (``time.monotonic()``) leaves no time after the delay
    (``Resent.timed_out``); each round gets what is left of it. A cancel during the delay
    propagates: the caller's record of who is held back is still true, no round having
    started.
    """
    pending, done = list(throttled), 0
    while pending and done < rounds and (go_on is None or go_on()):
        left = math.inf if deadline is None else deadline - time.monotonic()
        if left <= delay:
            return Resent(done, pending, timed_out=True)
        await anyio.sleep(delay)
        done += 1
        pending = list(await resend(pending, None if deadline is None else left - delay))
    return Resent(done, pending)
