"""Message ids seen lately, to drop DingTalk's redeliveries: bounded in count and age."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEDUPE_SIZE = 10_000
DEDUPE_SECONDS = 300.0


@dataclass(slots=True)
class Seen:
    """One message: ``ack`` once answered (sent again to a redelivery), and the link
    the latest copy came on (where the answer goes)."""

    at: float
    ack: bytes | None = None
    link: Any = None


class SeenIds:
    """At most ``size`` ids, none older than ``seconds``, oldest dropped first."""

    def __init__(self, size: int = DEDUPE_SIZE, seconds: float = DEDUPE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.seconds = seconds
        self._clock = clock
        self._ids: OrderedDict[str, Seen] = OrderedDict()

    def get(self, message_id: str) -> Seen | None:
        self._expire()
        return self._ids.get(message_id)

    def add(self, message_id: str, link: Any) -> Seen:
        entry = self._ids[message_id] = Seen(self._clock(), link=link)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return entry

    def forget(self, message_id: str) -> None:
        self._ids.pop(message_id, None)

    def _expire(self) -> None:
        horizon = self._clock() - self.seconds
        while self._ids:
            first = next(iter(self._ids.values()))
            if first.at > horizon:
                break
            self._ids.popitem(last=False)

    def __len__(self) -> int:
        return len(self._ids)
