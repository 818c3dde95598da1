"""Group robots take 20 messages a minute: the relay waits for a free slot, then sends one
message carrying everything queued for that robot meanwhile (a digest), never dropping.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ..webhook import MAX_BODY_BYTES, Markdown, Text, WebhookMessage

PER_MINUTE = 19  # one below DingTalk's 20: a message of another sender must not tip it over
SEPARATOR = "\n\n---\n\n"


class Pacer:
    """A sliding 60-second window of the messages this relay sent to one robot."""

    def __init__(self, limit: int = PER_MINUTE, span: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.span, self.clock = limit, span, clock
        self._sent: deque[float] = deque()

    def wait_for(self) -> float:
        """Seconds until one more message fits the window."""
        now = self.clock()
        while self._sent and self._sent[0] <= now - self.span:
            self._sent.popleft()
        return 0.0 if len(self._sent) < self.limit else self._sent[0] + self.span - now

    def record(self, parts: int) -> None:
        self._sent.extend([self.clock()] * parts)

    async def ready(self, sleep: Callable[[float], Awaitable[None]]) -> bool:
        """Wait for a slot; whether it had to wait."""
        waited = False
        while (wait := self.wait_for()) > 0:
            waited = True
            await sleep(wait)
        return waited


def _parts(message: dict[str, Any]) -> tuple[str, str]:
    if message["msgtype"] == "text":
        content = message["text"]["content"]
        return content.splitlines()[0][:64] if content else "notification", content
    return message["markdown"]["title"], message["markdown"]["text"]


def _size(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode())


def pack(messages: list[dict[str, Any]], budget: int = MAX_BODY_BYTES - 1024) -> int:
    """How many of ``messages`` (oldest first) fit one digest; always at least one."""
    used = 0
    for count, message in enumerate(messages):
        used += _size(_parts(message)[1]) + len(SEPARATOR)
        if used > budget:
            return max(count, 1)
    return len(messages)


def digest(messages: list[dict[str, Any]]) -> WebhookMessage:
    """One message for a group robot: the message itself, or every one in order."""
    if len(messages) == 1:
        title, text = _parts(messages[0])
        if messages[0]["msgtype"] == "text":
            return Text(content=text)
        return Markdown(title=title, text=text)
    titles = [_parts(m)[0] for m in messages]
    header = f"### {len(messages)} notifications\n\n"
    return Markdown(title=f"{len(messages)} notifications: {titles[0]}"[:64],
                    text=header + SEPARATOR.join(_parts(m)[1] for m in messages))
