"""What a ``RedisGovernor`` keeps per event loop: the waiting callers of each API (bulk
ones hold back while an interactive one waits), its background tasks and the queue of
completions on their way to Redis. A later loop (the next ``asyncio.run``) starts afresh."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ._ledger import Entry

# Bulk reservations of one process in flight at once (interactive ones never wait for one).
MAX_ASKING = 16


class Line:
    """The waiting callers of one API: bulk ones hold back while an interactive one waits."""

    __slots__ = ("blocked", "interactive", "users")

    def __init__(self) -> None:
        self.users = 0
        self.interactive = 0
        self.blocked: list[asyncio.Future[None]] = []

    async def clear(self) -> None:
        while self.interactive:
            future = asyncio.get_running_loop().create_future()
            self.blocked.append(future)
            await future

    def leave(self) -> None:
        self.interactive -= 1
        if not self.interactive:
            for future in self.blocked:
                if not future.done():
                    future.set_result(None)
            self.blocked.clear()


@dataclass
class LoopState:
    """What belongs to one event loop: tasks, waiters, the queue of completions."""

    loop: asyncio.AbstractEventLoop
    asking: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_ASKING))
    lines: dict[str, Line] = field(default_factory=dict)
    penalties: set[asyncio.Task[None]] = field(default_factory=set)
    completions: list[Entry] = field(default_factory=list)
    flusher: asyncio.Task[None] | None = None
    watcher: asyncio.Task[None] | None = None
