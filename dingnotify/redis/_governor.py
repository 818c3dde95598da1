"""``RedisGovernor``: the quota windows of one app, shared by all its processes.

Each reservation is one Lua script (``_scripts.RESERVE``) on the server's clock: it
trims the windows, and either records the call or answers how long to wait. Rate-limit
answers close the API in Redis for every process. When Redis is unavailable the process
paces itself with a local ``Governor`` on its share of each budget (``local_share``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from dataclasses import replace

import anyio
from redis.asyncio import Redis

from .._coordination import GRANTED, Priority, Slot
from .._errors import RateLimitedError
from .._quota import (
    MINUTE_SPAN,
    SECOND_SPAN,
    Governor,
    Quota,
    Sleep,
    check_limit,
    penalty,
    second_window,
    span_of,
)
from ._health import Health, Unavailable
from ._scripts import PENALIZE, RESERVE

ALL_APIS = "*"


def local_share(quota: Quota, processes: int) -> Quota:
    """The budget one of ``processes`` processes keeps while Redis is unavailable: 1/N of
    each (and at least one full send of recipients a minute)."""
    return replace(
        quota,
        qps=quota.qps / processes,
        calls_per_minute=max(1, quota.calls_per_minute // processes),
        recipients_per_minute=max(quota.userids_per_call,
                                  quota.recipients_per_minute // processes),
    )


SHARED_MARGIN = 0.015


class RedisGovernor:
    """Hands out call slots within a ``Quota`` summed over every process of an app.

    Within a process, callers of one API are served in arrival order (one asks Redis at
    a time); across processes the server's script decides. Slots granted here are also
    counted by the local fallback governor, so a fallback starts from what this process
    has just sent.
    """

    def __init__(self, client: Redis, prefix: str, quota: Quota, health: Health, *,
                 processes: int, sleep: Sleep = anyio.sleep) -> None:
        self.quota = quota
        self.local = Governor(local_share(quota, processes))
        self._prefix = prefix
        self._health = health
        self._sleep = sleep
        self._reserve = client.register_script(RESERVE)
        self._penalize = client.register_script(PENALIZE)
        # Several processes add their own scheduling jitter between a grant and its
        # arrival, hence a wider margin than one process needs.
        per_second, span = second_window(quota.qps, SECOND_SPAN + SHARED_MARGIN)
        self._limits = (per_second, quota.calls_per_minute, quota.recipients_per_minute,
                        span, MINUTE_SPAN)
        self._gap = 0.5 * span / per_second
        self._own: dict[str, tuple[tuple[float, ...], float]] = {}
        self._processes = processes
        self._member = f"{secrets.token_hex(6)}:"
        self._serial = itertools.count()
        self._locks: dict[str, anyio.Lock] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self.waited = 0.0

    def limit(self, api: str, calls: int, per_seconds: float) -> None:
        """Give ``api`` a budget of its own, summed over every process (see
        ``Governor.limit``); while Redis is unavailable, each keeps 1/``processes`` of it.

        The script's two windows both get the budget, and no spacing: a burst within the
        budget is fine."""
        check_limit(calls, per_seconds)
        span = span_of(per_seconds) + SHARED_MARGIN
        self._own[api] = ((calls, calls, self.quota.recipients_per_minute, span, span), 0.0)
        self.local.limit(api, max(1, calls // self._processes), per_seconds)

    def _keys(self, api: str) -> list[str]:
        p = self._prefix
        return [f"{p}s:{api}", f"{p}m:{api}", f"{p}r", f"{p}x:{api}", f"{p}x:{ALL_APIS}",
                f"{p}rt"]

    async def acquire(self, api: str, recipients: int = 0, *,
                      priority: Priority = "interactive",
                      within: float | None = None) -> Slot:
        """Wait for a slot of ``api`` (and ``recipients`` of the per-minute budget)."""
        lock = self._locks.get(api)
        if lock is None:
            lock = self._locks[api] = anyio.Lock()
        async with lock:
            if self._pending:
                await asyncio.gather(*self._pending)
            while (wait := await self.reserve(api, recipients)) is not None:
                if wait <= 0:
                    self.local.record(api, recipients)
                    return GRANTED
                self.waited += wait
                await self._sleep(wait)
            return await self.local.acquire(api, recipients, priority=priority)

    async def reserve(self, api: str, recipients: int = 0) -> float | None:
        """Ask Redis once: 0 (granted and counted), seconds to wait, or ``None`` when
        Redis is unavailable."""
        member = f"{self._member}{next(self._serial)}"
        limits, gap = self._own.get(api, (self._limits, self._gap))
        try:
            micros = await self._health.run(lambda: self._reserve(
                keys=self._keys(api), args=[*limits, recipients, member, gap]))
        except Unavailable:
            return None
        return int(micros) / 1e6

    def penalize(self, api: str, error: RateLimitedError) -> None:
        """DingTalk refused a call for its limits: close the API here at once, and for
        every process as soon as Redis has it (before this process's next slot)."""
        self.local.penalize(api, error)
        every_api, pause = penalty(error)
        key = self._keys(api)[4 if every_api else 3]
        task = asyncio.get_running_loop().create_task(self._share(key, pause))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _share(self, key: str, pause: float) -> None:
        with contextlib.suppress(Unavailable):  # the local governor has it already
            await self._health.run(lambda: self._penalize(keys=[key], args=[pause]))

    def __repr__(self) -> str:
        return f"RedisGovernor({self.quota!r}, prefix={self._prefix!r})"
