"""The one retry engine: which failures to retry, how long to wait, and the loop itself.

Every call of the SDK (a single send, each batch of a broadcast, each poll of ``wait``)
runs through ``retrying`` exactly once; nothing retries what an inner layer already
retried, so ``max_attempts=N`` means at most N requests of any kind, ``/gettoken``
included. Pacing is not the engine's job: each attempt first takes its slot from the
client's quota governor.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from ._constants import (
    DEFAULT_BASE_DELAY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_DELAY,
    DEFAULT_RATE_LIMIT_ATTEMPTS,
)
from ._errors import (
    DingNotifyError,
    HTTPStatusError,
    IPBannedError,
    RateLimitedError,
    RequestTimeoutError,
    ValidationError,
)

T = TypeVar("T")
logger = logging.getLogger("dingnotify")

RetryHook = Callable[[int, BaseException, float], None]
"""Called before each wait: (attempt number that failed, its error, seconds to wait)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with "equal" jitter (half fixed, half random).

    ``max_attempts`` counts the first try (4 = one try and three retries). Rate-limit
    answers (90018 and kin) mean DingTalk did not process the call, so they draw on their
    own, larger budget, ``rate_limit_attempts``. ``deadline`` bounds the whole call in
    seconds, waits included. What is retried is each error class's ``retryable``
    attribute; ``retry_on`` adds classes of your own.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    deadline: float | None = None
    jitter: bool = True
    rate_limit_attempts: int = DEFAULT_RATE_LIMIT_ATTEMPTS
    retry_on: tuple[type[BaseException], ...] = ()
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_attempts", "rate_limit_attempts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"{name} must be an int of at least 1")
        for name in ("base_delay", "max_delay"):
            if not 0 <= getattr(self, name) < float("inf"):
                raise ValidationError(f"{name} must be a finite number >= 0")
        if self.deadline is not None and not 0 < self.deadline < float("inf"):
            raise ValidationError("deadline must be a positive, finite number of seconds")

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1, rate_limit_attempts=1)

    def is_retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt at all (budgets aside)."""
        if isinstance(exc, DingNotifyError) and exc.retryable:
            return True
        return bool(self.retry_on) and isinstance(exc, self.retry_on)

    def delay(self, attempt: int, exc: BaseException | None = None) -> float:
        """Seconds to wait after attempt ``attempt``; honours ``Retry-After`` and bans."""
        if isinstance(exc, IPBannedError):
            return exc.wait
        if isinstance(exc, HTTPStatusError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        if isinstance(exc, RateLimitedError):
            # QPS windows are one second wide: waiting less only draws another 90018.
            ceiling = min(self.max_delay, max(ceiling, 1.0))
        if not self.jitter:
            return ceiling
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


async def retrying(
    attempt: Callable[[float], Awaitable[T]],
    policy: RetryPolicy,
    *,
    timeout: float,
    on_retry: RetryHook | None = None,
    repeatable: bool = True,
) -> T:
    """Run ``attempt(per_attempt_timeout)`` until it succeeds or ``policy`` says stop.

    The timeout handed to each attempt is ``timeout``, shortened so that no attempt
    outlives the policy's deadline. A call that is not ``repeatable`` (its API does not
    drop a repeat) stops at the first failure that may have reached the server
    (``maybe_sent``), whatever the policy: a second attempt could deliver twice.
    """
    started = time.monotonic()
    failures = throttles = 0
    while True:
        try:
            return await attempt(_limit(policy, started, timeout))
        except Exception as exc:
            if isinstance(exc, RateLimitedError) and exc.retryable and not exc.token_fetch:
                throttles += 1
                number, budget = throttles, policy.rate_limit_attempts
            else:
                failures += 1
                number, budget = failures, policy.max_attempts
            if number >= budget or not policy.is_retryable(exc) or (
                    not repeatable and getattr(exc, "maybe_sent", False)):
                raise
            wait = policy.delay(number, exc)
            if policy.deadline is not None:
                left = policy.deadline - (time.monotonic() - started)
                if wait >= left:
                    raise
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("retry %d after %.2fs: %s", failures + throttles, wait, exc)
            if on_retry is not None:
                on_retry(failures + throttles, exc, wait)
            await anyio.sleep(wait)


def _limit(policy: RetryPolicy, started: float, timeout: float) -> float:
    if policy.deadline is None:
        return timeout
    left = policy.deadline - (time.monotonic() - started)
    if left <= 0:
        raise RequestTimeoutError(f"retry deadline of {policy.deadline}s exceeded",
                                  maybe_sent=False)
    return min(left, timeout)
