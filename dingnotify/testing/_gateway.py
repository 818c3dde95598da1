"""The Stream-mode gateway: ``/v1.0/gateway/connections/open`` and its WebSocket.

A client trades its app key and secret for a ticket (single use, 90 s) and a ``ws://``
endpoint on this server, then reads JSON text frames and answers each with an ack of the
same ``messageId``. Choices (DingTalk publishes none of these figures, all adjustable on
``emu.gateway``): a SYSTEM ``ping`` every ``ping_interval`` s; a frame not acked within
``redeliver_after`` s (or an EVENT acked ``LATER``) is pushed again, to a live connection
chosen at random; ``duplicate_ratio`` of acked frames are pushed once more (DingTalk's
"duplicates can still happen"); a card callback's response changes the card only when it
arrives within ``callback_deadline`` s of its push. ``disconnect()`` sends SYSTEM
``disconnect``, stops pushing there at once and closes after ``disconnect_grace`` s;
``go_silent()`` turns live links into zombies: open, but nothing pushed, no ping or pong
answered, nothing read.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from ._card_state import CardState
from ._org import Org
from ._wire import decode, encode

OPEN_PATH = "/v1.0/gateway/connections/open"
WS_PATH = "/connect"
CARD_TOPIC = "/v1.0/card/instances/callback"
TICKET_TTL = 90.0
DEFAULT_CORP_ID = "dingemulatorcorp"


@dataclass
class StreamConnection:
    """One WebSocket: ``alive`` while it takes pushes."""

    connection_id: str
    app_key: str
    ws: web.WebSocketResponse
    subscriptions: list[dict[str, Any]]
    alive: bool = True
    silent: bool = False
    pongs: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Pushed:
    """One frame the gateway pushes until it is acked."""

    message_id: str
    app_key: str
    kind: str
    topic: str
    data: str
    extra: dict[str, str]
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    sent_at: float = 0.0
    sends: int = 0
    code: int | None = None
    answer: Any = None


@dataclass
class CardCallback:
    """A click and how the application answered it (``code`` None: never answered)."""

    message_id: str
    out_track_id: str
    userid: str
    code: int | None = None
    response: dict[str, Any] | None = None
    applied: bool = False
    sends: int = 0


class Gateway:
    """Tickets, live connections, frames in flight and what came back (``emu.gateway``)."""

    def __init__(self, org: Org, cards: CardState, ws_url: Callable[[], str], seed: int) -> None:
        self.org = org
        self.cards = cards
        self._ws_url = ws_url
        self.ping_interval = 10.0
        self.redeliver_after = 60.0
        self.disconnect_grace = 10.0
        self.callback_deadline = 2.0
        self.duplicate_ratio = 0.0
        self.corp_id = DEFAULT_CORP_ID
        self.tickets: dict[str, tuple[str, float, list[dict[str, Any]]]] = {}
        self.connections: list[StreamConnection] = []
        self.opened = 0
        self.pushed: dict[str, Pushed] = {}
        self.callbacks: list[CardCallback] = []
        self.acks: list[dict[str, Any]] = []
        self.duplicates_sent = 0
        self.redeliveries = 0
        self._rng = random.Random(f"gateway:{seed}")
        self._live = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(OPEN_PATH, self.open), web.get(WS_PATH, self.connect)]

    # -- connections ------------------------------------------------------------------

    async def open(self, request: web.Request) -> web.Response:
        try:
            body = decode(await request.read())
        except msgspec.DecodeError:
            body = None
        body = body if isinstance(body, dict) else {}
        app = next((a for a in self.org.apps if a.app_key == body.get("clientId")), None)
        if app is None or app.app_secret != body.get("clientSecret"):
            return web.json_response({"requestid": uuid.uuid4().hex.upper(),
                                      "code": "authFailed", "message": "鉴权失败"}, status=401)
        subscriptions = body.get("subscriptions")
        ticket = str(uuid.UUID(int=self._rng.getrandbits(128)))
        self.tickets[ticket] = (app.app_key, time.monotonic() + TICKET_TTL,
                                subscriptions if isinstance(subscriptions, list) else [])
        return web.json_response({"endpoint": self._ws_url(), "ticket": ticket})

    async def connect(self, request: web.Request) -> web.StreamResponse:
        entry = self.tickets.pop(request.query.get("ticket", ""), None)
        if entry is None or entry[1] < time.monotonic():
            return web.json_response({"code": "invalidTicket", "message": "ticket is invalid"},
                                     status=401)
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = StreamConnection(uuid.uuid4().hex, entry[0], ws, entry[2])
        self.connections.append(conn)
        self.opened += 1
        self._live.set()
        pinger = self._spawn(self._ping(conn))
        try:
            async for message in ws:
                if conn.silent:
                    continue
                if message.type == WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type == WSMsgType.TEXT:
                    self._ack(conn, message.data)
        finally:
            conn.alive = False
            pinger.cancel()
            self.connections.remove(conn)
        return ws

    def live(self, app_key: str) -> list[StreamConnection]:
        return [c for c in self.connections if c.alive and c.app_key == app_key]

    async def disconnect(self) -> None:
        """SYSTEM ``disconnect`` on every live link; each is closed ``disconnect_grace`` s
        later and gets no push meanwhile."""
        for conn in [c for c in self.connections if c.alive]:
            conn.alive = False
            frame = {"specVersion": "1.0", "type": "SYSTEM",
                     "headers": {"topic": "disconnect", "contentType": "application/json",
                                 "time": _ms()},
                     "data": encode({"reason": "connection is expired"}).decode()}
            await self._write(conn, frame)
            self._spawn(self._close_later(conn))

    def go_silent(self) -> None:
        """Every live link becomes a zombie: open, silent, deaf."""
        for conn in self.connections:
            conn.alive, conn.silent = False, True

    async def _close_later(self, conn: StreamConnection) -> None:
        await asyncio.sleep(self.disconnect_grace)
        await conn.ws.close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _ping(self, conn: StreamConnection) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            if conn.silent or not conn.alive:
                continue
            opaque = uuid.uuid4().hex
            await self._write(conn, {"specVersion": "1.0", "type": "SYSTEM",
                                     "headers": {"topic": "ping", "messageId": "ping-" + opaque,
                                                 "contentType": "application/json",
                                                 "time": _ms()},
                                     "data": encode({"opaque": opaque}).decode()})

    async def _write(self, conn: StreamConnection, frame: dict[str, Any]) -> bool:
        async with conn.lock:
            try:
                await conn.ws.send_str(encode(frame).decode())
            except (ConnectionError, RuntimeError):
                return False
        return True

    # -- acks -------------------------------------------------------------------------

    def _ack(self, conn: StreamConnection, text: str) -> None:
        try:
            ack = decode(text)
        except msgspec.DecodeError:
            return
        if not isinstance(ack, dict) or not isinstance(ack.get("headers"), dict):
            return
        self.acks.append(ack)
        message_id = ack["headers"].get("messageId")
        if isinstance(message_id, str) and message_id.startswith("ping-"):
            echoed = _object(ack.get("data"))
            if echoed and echoed.get("opaque") == message_id[5:]:
                conn.pongs += 1  # a pong counts only if it echoes the ping's opaque
            return
        pushed = self.pushed.get(message_id) if isinstance(message_id, str) else None
        if pushed is None or pushed.acked.is_set():
            return
        pushed.code = ack.get("code") if isinstance(ack.get("code"), int) else None
        pushed.answer = _object(ack.get("data")) or None
        later = pushed.kind == "EVENT" and isinstance(pushed.answer, dict) and \
            pushed.answer.get("status") == "LATER"
        if not later:
            pushed.acked.set()

    # -- pushes -----------------------------------------------------------------------

    async def push(self, app_key: str, kind: str, topic: str, data: dict[str, Any],
                   extra: dict[str, str] | None = None, timeout: float = 30.0) -> Pushed:
        """Push one frame until it is acked (or ``timeout`` s pass: ``TimeoutError``)."""
        message_id = (f"{self._rng.getrandbits(32):08x}_{self._rng.randrange(1000)}_"
                      f"{int(time.time() * 1000):x}_{self._rng.getrandbits(16):04x}")
        pushed = Pushed(message_id, app_key, kind, topic, encode(data).decode(), extra or {})
        self.pushed[message_id] = pushed
        async with asyncio.timeout(timeout):
            while not pushed.acked.is_set():
                if await self._send(pushed):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(pushed.acked.wait(), self.redeliver_after)
                else:
                    self._live.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._live.wait(), 0.05)
        if self.duplicate_ratio and self._rng.random() < self.duplicate_ratio:
            self.duplicates_sent += 1
            self._spawn(self._send(pushed, duplicate=True))
        return pushed

    async def _send(self, pushed: Pushed, duplicate: bool = False) -> bool:
        live = self.live(pushed.app_key)
        if not live:
            return False
        conn = self._rng.choice(live)
        headers = {"topic": pushed.topic, "messageId": pushed.message_id,
                   "contentType": "application/json", "time": _ms(),
                   "appId": pushed.app_key, "connectionId": conn.connection_id, **pushed.extra}
        frame = {"specVersion": "1.0", "type": pushed.kind, "headers": headers,
                 "data": pushed.data}
        if duplicate:
            return await self._write(conn, frame)
        if pushed.sends:
            self.redeliveries += 1
        pushed.sends += 1
        pushed.sent_at = time.monotonic()
        return await self._write(conn, frame)

    async def click(self, app_key: str, out_track_id: str, userid: str, action_id: str,
                    params: dict[str, Any], timeout: float) -> CardCallback:
        card = self.cards.cards[out_track_id]
        if card.callback_type != "STREAM":
            raise ValueError(f"card {out_track_id!r} was not created with callbackType STREAM")
        content = encode({"cardPrivateData": {"actionIds": [action_id],
                                              "params": params}}).decode()
        space = next(iter(card.delivered_to), ("IM_ROBOT", userid))
        data = {"extension": "{}", "corpId": self.corp_id, "spaceType": space[0].lower(),
                "userIdType": card.user_id_type, "type": "actionCallback", "userId": userid,
                "content": content, "spaceId": space[1], "outTrackId": out_track_id,
                "value": content}
        pushed = await self.push(app_key, "CALLBACK", CARD_TOPIC, data, timeout=timeout)
        answer = pushed.answer if isinstance(pushed.answer, dict) else {}
        response = answer.get("response") if isinstance(answer.get("response"), dict) else None
        record = CardCallback(pushed.message_id, out_track_id, userid, pushed.code, response,
                              sends=pushed.sends)
        if pushed.code == 200 and response is not None and \
                time.monotonic() - pushed.sent_at <= self.callback_deadline:
            record.applied = self._apply(out_track_id, userid, response)
        self.callbacks.append(record)
        return record

    def _apply(self, out_track_id: str, userid: str, response: dict[str, Any]) -> bool:
        card = self.cards.cards[out_track_id]
        options = response.get("cardUpdateOptions") or {}
        public = (response.get("cardData") or {}).get("cardParamMap")
        private = (response.get("userPrivateData") or {}).get("cardParamMap")
        maps = [m for m in (public, private) if m is not None]
        if not all(isinstance(m, dict) and all(isinstance(v, str) for v in m.values())
                   for m in maps):
            return False
        self.cards.update(card, public, {userid: private} if private is not None else {},
                          options.get("updateCardDataByKey") is True,
                          options.get("updatePrivateDataByKey") is True)
        return True


def _object(text: object) -> dict[str, Any]:
    """A JSON object held in a string (an ack's ``data``); empty for anything else."""
    try:
        value = decode(text) if isinstance(text, str) and text else None
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _ms() -> str:
    return str(int(time.time() * 1000))
