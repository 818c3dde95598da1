"""Custom group robots: ``POST /robot/send?access_token=...[&timestamp=...&sign=...]``.

Written from DingTalk's description of the webhook, independently of the client. The checks
run in DingTalk's order as far as it is observable: unknown token (300005), timestamp and
signature (310000), IP allow-list (310000), body size (460101), JSON shape (400402),
keywords (310000), then 20 messages per sliding minute per robot (130101). Accepted
messages land in the robot's group inbox, ``Emulator.webhook_messages(token)``.
"""

from __future__ import annotations

import base64
import hmac
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from ._clock import Clock
from ._wire import decode, json_response

PATH = "/robot/send"
MAX_BODY = 20_000
TIMESTAMP_TOLERANCE_MS = 3_600_000


class _Refused(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


def webhook_sign(secret: str, timestamp_ms: int | str) -> str:
    """The ``sign`` a robot with ``secret`` expects for ``timestamp_ms`` (base64 HMAC-SHA256)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), "sha256")
    return base64.b64encode(mac.digest()).decode("ascii")


@dataclass
class GroupRobot:
    """One custom robot in one group: its rules, its inbox and what it answered."""

    token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    ip_allow: frozenset[str] | None = None
    limit: int = 20
    period: float = 60.0
    messages: list[dict[str, Any]] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    answers: Counter[int] = field(default_factory=Counter)
    _window: deque[float] = field(default_factory=deque, repr=False)

    def admit(self, now: float) -> bool:
        """Sliding window: at most ``limit`` accepted messages in any ``period`` seconds."""
        while self._window and self._window[0] <= now - self.period:
            self._window.popleft()
        if len(self._window) >= self.limit:
            return False
        self._window.append(now)
        return True


class WebhookRobots:
    """Registry of group robots by access token, and the ``/robot/send`` handler."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.robots: dict[str, GroupRobot] = {}

    def add(self, token: str, secret: str | None = None, keywords: Iterable[str] = (),
            ip_allow: Iterable[str] | None = None, *, limit: int = 20,
            period: float = 60.0) -> GroupRobot:
        """Create (or replace) the robot for ``token``; ``ip_allow=None`` allows any IP."""
        robot = GroupRobot(token, secret, tuple(keywords),
                           None if ip_allow is None else frozenset(ip_allow), limit, period)
        self.robots[token] = robot
        return robot

    def messages(self, token: str) -> list[dict[str, Any]]:
        """The group inbox of the robot for ``token``: accepted bodies, oldest first."""
        return self.robots[token].messages

    def routes(self) -> list[web.RouteDef]:
        """The one route to add to the emulator's application."""
        return [web.post(PATH, self.send)]

    async def send(self, request: web.Request) -> web.Response:
        """``POST /robot/send``: DingTalk answers HTTP 200 with an errcode, even for errors."""
        robot = self.robots.get(request.query.get("access_token", ""))
        if robot is None:
            return json_response({"errcode": 300005, "errmsg": "token is not exist"})
        try:
            body = await request.read()
            self._check(robot, request, body)
        except _Refused as refused:
            robot.answers[refused.errcode] += 1
            return json_response({"errcode": refused.errcode, "errmsg": refused.errmsg})
        robot.answers[0] += 1
        return json_response({"errcode": 0, "errmsg": "ok"})

    def _check(self, robot: GroupRobot, request: web.Request, body: bytes) -> None:
        now = self.clock()
        if robot.secret is not None:
            _check_signature(robot.secret, request.query, now)
        if robot.ip_allow is not None and request.remote not in robot.ip_allow:
            raise _Refused(310000, f"ip {request.remote} not in whitelist")
        if len(body) > MAX_BODY:
            raise _Refused(460101, f"message too long, {len(body)} bytes > {MAX_BODY}")
        message = _parse(body)
        if robot.keywords and not any(k in _visible_text(message) for k in robot.keywords):
            raise _Refused(310000, "keywords not in content")
        if not robot.admit(now):
            raise _Refused(130101, "send too fast, exceed 20 times per minute")
        robot.messages.append(message)
        robot.received_at.append(now)


class WebhookRobotsMixin:
    """The ``Emulator`` methods for group robots (kept here so the app module stays small)."""

    webhook_robots: WebhookRobots

    @property
    def url(self) -> str:
        raise NotImplementedError

    def add_webhook_robot(self, token: str, secret: str | None = None,
                          keywords: Iterable[str] = (), ip_allow: Iterable[str] | None = None,
                          *, limit: int = 20, period: float = 60.0) -> GroupRobot:
        """A custom group robot; point a client at ``webhook_url(token)``."""
        return self.webhook_robots.add(token, secret, keywords, ip_allow,
                                       limit=limit, period=period)

    def webhook_messages(self, token: str) -> list[dict[str, Any]]:
        """What the robot's group received, in order, as the JSON bodies that were sent."""
        return self.webhook_robots.messages(token)

    def webhook_url(self, token: str) -> str:
        """The webhook URL a client should use for the robot with ``token``."""
        return f"{self.url}/robot/send?access_token={token}"


def _check_signature(secret: str, query: Mapping[str, str], now: float) -> None:
    timestamp = query.get("timestamp", "")
    if not timestamp.isdigit() or abs(int(timestamp) - now * 1000) > TIMESTAMP_TOLERANCE_MS:
        raise _Refused(310000, "timestamp invalid")
    given = query.get("sign", "")
    if not hmac.compare_digest(given.encode(), webhook_sign(secret, timestamp).encode()):
        raise _Refused(310000, "sign not match")


REQUIRED: dict[str, tuple[str, ...]] = {
    "text": ("content",),
    "markdown": ("title", "text"),
    "link": ("title", "text", "messageUrl"),
    "actionCard": ("title", "text"),
    "feedCard": ("links",),
}


def _parse(body: bytes) -> dict[str, Any]:
    try:
        message = decode(body)
    except msgspec.DecodeError:
        raise _Refused(400402, "param missing: body is not JSON") from None
    if not isinstance(message, dict):
        raise _Refused(400402, "param missing: body is not an object")
    msgtype = message.get("msgtype")
    content = message.get(msgtype) if isinstance(msgtype, str) else None
    if msgtype not in REQUIRED or not isinstance(content, dict):
        raise _Refused(400402, f"param missing: invalid msgtype {msgtype!r}")
    for key in REQUIRED[msgtype]:
        if not content.get(key):
            raise _Refused(400402, f"param missing: {msgtype}.{key}")
    _check_shape(msgtype, content)
    _check_at(message.get("at"))
    return message


def _check_shape(msgtype: str, content: dict[str, Any]) -> None:
    if msgtype == "actionCard":
        single = content.get("singleTitle") and content.get("singleURL")
        buttons = content.get("btns")
        ok = isinstance(buttons, list) and buttons and all(
            isinstance(b, dict) and b.get("title") and b.get("actionURL") for b in buttons)
        if not (single or ok):
            raise _Refused(400402, "param missing: actionCard singleTitle/singleURL or btns")
    if msgtype == "feedCard":
        links = content["links"]
        if not isinstance(links, list) or not all(
                isinstance(x, dict) and x.get("title") and x.get("messageURL") and
                x.get("picURL") for x in links):
            raise _Refused(400402, "param missing: feedCard links[{title, messageURL, picURL}]")


def _check_at(at: Any) -> None:
    if at is None:
        return
    lists_ok = isinstance(at, dict) and all(
        isinstance(at.get(k, []), list) and all(isinstance(v, str) for v in at.get(k, []))
        for k in ("atMobiles", "atUserIds"))
    if not lists_ok or not isinstance(at.get("isAtAll", False), bool):
        raise _Refused(400402, "param missing: malformed at")


def _visible_text(message: dict[str, Any]) -> str:
    content = message[message["msgtype"]]
    parts = [str(content.get(k, "")) for k in ("content", "title", "text")]
    parts += [str(link.get("title", "")) for link in content.get("links", [])]
    return "\n".join(parts)


__all__ = ["GroupRobot", "WebhookRobots", "WebhookRobotsMixin", "webhook_sign"]
