"""Whether Redis answers, shared by everything one ``RedisCoordination`` hands out.

Every Redis call is bounded (short socket timeouts and a deadline of its own), so a down,
slow or partitioned server costs at most ``op_timeout`` per probe. After a failure the
coordination works locally and asks Redis again at most every ``retry_interval`` seconds;
it logs one warning when Redis goes away and one info line when it comes back.

A wrong password (or none where one is required) and, before Redis ever answered, a host
name that does not resolve are not outages but mistakes: they raise
``RedisConfigurationError`` instead of pacing on the local share, where they would go
unnoticed for good.

Timeouts: ``op_timeout`` (2 s) bounds one operation including a new connection and a
script load (four round trips on a cold connection), ``socket_timeout`` (1 s) one read or
connect. A Redis a few hundred milliseconds away is slow, not down: its answers count,
and reservations overlap so its latency costs no throughput. A frozen server costs one
``socket_timeout`` per probe, at most every ``retry_interval``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    RedisError,
)

from .._errors import DingNotifyError

log = logging.getLogger("dingnotify.redis")
T = TypeVar("T")
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
# The resolver's "no such name" answers (not a resolver that could not be reached).
_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


class Unavailable(Exception):
    """Redis did not answer in time (or at all): the caller falls back to local state."""


class RedisConfigurationError(DingNotifyError):
    """Redis refused our credentials, or its host name does not resolve: a mistake in the
    coordination's settings, not an outage (the message never holds the password)."""


def cancelling() -> bool:
    """Whether the running task is being cancelled (its loop may be closing)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def misconfigured(exc: BaseException, reached: bool) -> str | None:
    """Why ``exc`` is a configuration mistake, or None when it is an outage."""
    if isinstance(exc, AuthenticationError | AuthenticationWrongNumberOfArgsError):
        return "Redis refused the coordination's credentials (check the password and user)"
    causes = (exc.__cause__, exc.__context__)
    if not reached and any(isinstance(c, socket.gaierror) and c.errno in _NO_SUCH_NAME
                           for c in causes):
        return "the Redis host name does not resolve (check the URL's host)"
    return None


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
        self.reached = False
        """Whether Redis has answered at least once (a name that stops resolving later is
        an outage, not a mistake)."""

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` within ``op_timeout``; raises ``Unavailable`` instead of Redis errors,
        and without trying while Redis is known down and not yet due for another try."""
        if self.down and self._clock() < self._next_try:
            raise Unavailable("Redis is down")
        try:
            with anyio.fail_after(self.op_timeout):
                result = await call()
        except REDIS_ERRORS as exc:
            mistake = misconfigured(exc, self.reached)
            if mistake is not None:
                raise RedisConfigurationError(mistake) from None
            if not cancelling():  # a loop shutting down closed it: not an outage
                self._failed(exc)
            raise Unavailable(str(exc)) from exc
        self.reached = True
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
