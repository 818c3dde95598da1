"""What this process was granted through Redis in the last minute, on its own clock.

Redis holds every process's calls; this ledger holds only ours, for two moments when
Redis cannot be trusted with them: its history was lost (we put ours back, see
``RedisGovernor``), or it stopped answering (the local fallback starts from the shared
window as last seen, minus our own part of it, which it already counts).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator


class Entry:
    """One granted call: its member in the shared windows, and when its answer came."""

    __slots__ = ("answered", "api", "granted", "member", "weight")

    def __init__(self, member: str, api: str, weight: int, granted: float) -> None:
        self.member = member
        self.api = api
        self.weight = weight
        self.granted = granted
        self.answered: float | None = None


class Ledger:
    """Our grants still inside a window of ``span`` seconds (in-flight ones for ``ttl``
    more), oldest first."""

    def __init__(self, span: float, ttl: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.span = span
        self.ttl = ttl
        self.clock = clock
        self._entries: deque[Entry] = deque()
        self.seen: tuple[float, int] | None = None
        """(when, total): the shared recipients window at our last answer from Redis."""

    def grant(self, member: str, api: str, weight: int, total: int) -> Entry:
        """Record a grant, and the shared recipients total that includes it."""
        now = self.clock()
        self._trim(now)
        entry = Entry(member, api, weight, now)
        self._entries.append(entry)
        self.saw(total)
        return entry

    def saw(self, total: int) -> None:
        """The shared recipients window held ``total`` just now (ours included)."""
        self.seen = (self.clock(), total)

    def others(self) -> tuple[int, float] | None:
        """(recipients, seconds ago): the other processes' part of the shared window when
        we last saw it, or None if we never did."""
        if self.seen is None:
            return None
        when, total = self.seen
        own = sum(e.weight for e in self.recent(when) if e.granted <= when)
        return max(0, total - own), self.clock() - when

    def _ends(self, entry: Entry) -> float:
        if entry.answered is None:
            return entry.granted + self.ttl + self.span
        return entry.answered + self.span

    def _trim(self, now: float) -> None:
        entries = self._entries
        while entries and self._ends(entries[0]) <= now:
            entries.popleft()

    def recent(self, now: float | None = None) -> Iterator[Entry]:
        """Our calls still counted somewhere in a window."""
        now = self.clock() if now is None else now
        return (e for e in self._entries if self._ends(e) > now)

    def active(self) -> bool:
        """Whether any of our calls is still counted (worth watching the epoch for)."""
        now = self.clock()
        self._trim(now)
        return any(True for _ in self.recent(now))

    def age(self, entry: Entry) -> float | None:
        """Seconds since ``entry``'s answer, None while it is in flight."""
        return None if entry.answered is None else max(0.0, self.clock() - entry.answered)

    def __len__(self) -> int:
        return len(self._entries)
