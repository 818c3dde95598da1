"""The per-IP rule: too many calls from one address in a window bans it for a while.

DingTalk documents 10,000 calls per 20 s per client IP, across all APIs, and a 5-minute ban
beyond it. The ban is not an errcode answer: every request gets HTTP 200 with a body like
``{"status":1111,"wait":5,"source":"x5","punish":"deny"}`` (``wait`` = seconds left), or an
HTML page; ``ban_style`` picks which. Calls answered with the ban are not counted, and the
window starts empty when a ban ends.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Literal

from aiohttp import web

from ._ratelimit import Monotonic, RateLimits
from ._wire import json_response

BAN_STATUS = 1111
BanStyle = Literal["json", "html"]
_PAGE = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>访问被拒绝</title></head>"
         "<body><h1>访问被拒绝 Access denied</h1><p>punish: deny, source: x5, wait: {wait}s"
         "</p></body></html>")


class IpGuard:
    """Sliding per-IP call windows and the bans they trigger."""

    def __init__(self, limits: RateLimits, monotonic: Monotonic = time.monotonic) -> None:
        self.calls = limits.ip_calls_per_window
        self.window = limits.ip_window
        self.ban_seconds = limits.ip_ban_seconds
        self._now = monotonic
        self._seen: dict[str, deque[float]] = {}
        self._banned_until: dict[str, float] = {}
        self.bans = 0

    def check(self, ip: str) -> float | None:
        """Count a call from ``ip``; seconds of ban left if it must be refused, else None."""
        if self.calls is None:
            return None
        now = self._now()
        until = self._banned_until.get(ip)
        if until is not None:
            if now < until:
                return until - now
            del self._banned_until[ip]
        window = self._seen.setdefault(ip, deque())
        horizon = now - self.window
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= self.calls:
            del self._seen[ip]
            self._banned_until[ip] = now + self.ban_seconds
            self.bans += 1
            return self.ban_seconds
        window.append(now)
        return None

    def reset(self) -> None:
        self._seen.clear()
        self._banned_until.clear()


def ban_response(seconds_left: float, style: BanStyle) -> web.Response:
    wait = max(1, math.ceil(seconds_left))
    if style == "html":
        return web.Response(text=_PAGE.format(wait=wait), content_type="text/html")
    return json_response({"status": BAN_STATUS, "wait": wait, "source": "x5",
                          "punish": "deny"})
