"""The seam through which several processes of one app share a token and quotas.

DingTalk counts quotas per app, not per process, and every process that fetches a token
on its own costs a ``/gettoken`` call. A ``Coordination`` hands a client a shared
``TokenStore``, a lock per token key (so one process fetches while the others read the
store) and a governor whose windows every process draws on. The core imports no backend:
``dingnotify.redis`` provides one, on Redis.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar, runtime_checkable

import anyio

if TYPE_CHECKING:  # _token imports this module
    from ._errors import RateLimitedError
    from ._quota import Quota
    from ._token import TokenStore

T = TypeVar("T")
# Waiters read the store first after POLL_FIRST seconds, then twice as late each time, at
# most POLL_MAX apart: a fetch takes milliseconds, a crashed holder up to the lock's expiry.
POLL_FIRST = 0.005
POLL_MAX = 0.25


Priority = Literal["interactive", "bulk"]
"""Who waits for a call: a person (``"interactive"``, served first, may use the whole
budget) or a bulk job (``"bulk"``, leaves ``Quota.interactive_reserve`` of it free)."""


class Slot(Protocol):
    """A granted call slot. ``done()`` says the call's answer has arrived (or that it was
    certainly never sent): windows count a call until one window after that moment."""

    def done(self) -> None:
        """Idempotent: a second call changes nothing."""
        ...


class _Granted:
    """A slot with nothing to release (a governor that counts calls when it grants them)."""

    __slots__ = ()

    def done(self) -> None:
        pass


GRANTED: Slot = _Granted()


class QuotaGovernor(Protocol):
    """What every call draws its slot from: ``Governor`` in one process, or a shared one."""

    @property
    def quota(self) -> Quota: ...

    async def acquire(self, api: str, recipients: int = 0, *,
                      priority: Priority = "interactive",
                      within: float | None = None) -> Slot:
        """Wait for a slot of ``api`` (and ``recipients`` of the per-minute budget), at
        ``priority``; ``within`` bounds the wait in seconds (``RequestTimeoutError``,
        nothing sent, when the slot cannot be had in time)."""
        ...

    def penalize(self, api: str, error: RateLimitedError) -> None: ...


class BudgetGovernor(QuotaGovernor, Protocol):
    """A governor that can give one API a budget of its own (a group robot's 20 a minute):
    ``Governor``, ``RedisGovernor`` and the webhook robots' process-wide windows."""

    def limit(self, api: str, calls: int, per_seconds: float) -> None: ...


class TokenLock(Protocol):
    """A lock on one token key, held by at most one process and expiring on its own."""

    async def acquire(self) -> float:
        """Try once: 0 when this process now holds the lock, else seconds until it expires."""
        ...

    async def release(self) -> None:
        """Release the lock if this process still holds it (never another's)."""
        ...


@runtime_checkable
class Coordination(Protocol):
    """A shared token store, token locks and governors for the processes of one app."""

    def token_store(self) -> TokenStore:
        """Where every process reads the tokens one of them fetched."""
        ...

    def token_lock(self, key: str) -> TokenLock:
        """The lock held by the one process fetching the token ``key``."""
        ...

    def governor(self, app_key: str, quota: Quota) -> QuotaGovernor:
        """The windows every process of ``app_key`` draws its call slots from."""
        ...


async def single_flight(
    lock: TokenLock,
    load: Callable[[], Awaitable[T | None]],
    fetch: Callable[[], Awaitable[T]],
    *,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``load()`` the shared value, or ``fetch()`` it in exactly one process.

    The holder of ``lock`` re-checks the store, fetches and stores; the others poll the
    store (not the lock) with a bounded backoff, and try the lock again once it would
    have expired, so a crashed holder blocks nobody past its lock's expiry. A holder whose
    fetch fails releases the lock, but waiters learn of it only at that expiry: the lock's
    timeout bounds what one failed fetch costs the other processes.
    """
    while True:
        expires_in = await lock.acquire()
        if expires_in <= 0:
            try:
                value = await load()
                return value if value is not None else await fetch()
            finally:
                await lock.release()
        deadline, delay = clock() + expires_in, POLL_FIRST
        while (left := deadline - clock()) > 0:
            await anyio.sleep(min(delay, left))
            delay = min(2 * delay, POLL_MAX)
            value = await load()
            if value is not None:
                return value
