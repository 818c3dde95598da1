"""Retry policy: which failures to retry, and how long to wait between attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ._constants import DEFAULT_BASE_DELAY, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DELAY
from ._errors import DingNotifyError, HTTPStatusError, RateLimitedError


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with "equal" jitter (half fixed, half random).

    ``max_attempts`` counts the first try (4 = one try and three retries); ``deadline``
    bounds the whole call in seconds, waits included. Which errors are worth retrying is
    each error's own ``retryable`` flag (busy/QPS errcodes, HTTP 429/5xx, connection
    failures and timeouts); credentials and argument errors never are.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    deadline: float | None = None
    jitter: bool = True
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be positive")

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """True when ``exc``, raised by attempt number ``attempt`` (1-based), deserves another."""
        return (
            attempt < self.max_attempts
            and isinstance(exc, DingNotifyError)
            and exc.retryable
        )

    def delay(self, attempt: int, exc: BaseException | None = None) -> float:
        """Seconds to wait after attempt ``attempt``; honours an HTTP ``Retry-After``."""
        if isinstance(exc, HTTPStatusError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        if isinstance(exc, RateLimitedError):
            # QPS windows are one second wide: waiting less than that only draws another 90018.
            ceiling = min(self.max_delay, max(ceiling, 1.0))
        if not self.jitter:
            return ceiling
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)
