"""Whether Redis answers, shared by everything one ``RedisCoordination`` hands out.

Every Redis call is bounded (short socket timeouts and a deadline of its own), so a down,
slow or partitioned server costs at most ``op_timeout`` per probe. After a failure the
coordination works locally and asks Redis again at most every ``retry_interval`` seconds;
it logs one warning when Redis goes away and one info line when it comes back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from redis.exceptions import RedisError

log = logging.getLogger("dingnotify.redis")
T = TypeVar("T")
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)


class Unavailable(Exception):
    """Redis did not answer in time (or at all): the caller falls back to local state."""


class Health:
    """Runs Redis calls within a deadline and remembers whether Redis is reachable."""

    def __init__(self, *, op_timeout: float, retry_interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.op_timeout = op_timeout
        self.retry_interval = retry_interval
        self._clock = clock
        self._next_try = 0.0
        self.down = False
        self.outages = 0

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` within ``op_timeout``; raises ``Unavailable`` instead of Redis errors,
        and without trying while Redis is known down and not yet due for another try."""
        if self.down and self._clock() < self._next_try:
            raise Unavailable("Redis is down")
        try:
            with anyio.fail_after(self.op_timeout):
                result = await call()
        except REDIS_ERRORS as exc:
            self._failed(exc)
            raise Unavailable(str(exc)) from exc
        if self.down:
            self.down = False
            log.info("Redis answers again: the token and the quotas are shared again")
        return result

    def _failed(self, exc: Exception) -> None:
        self._next_try = self._clock() + self.retry_interval
        if not self.down:
            self.down = True
            self.outages += 1
            log.warning("Redis unavailable (%s: %s): pacing on this process's share of "
                        "the quotas until it answers", type(exc).__name__, exc)

    def __repr__(self) -> str:
        return f"Health(down={self.down}, outages={self.outages})"
