"""``StreamClient``: DingTalk's Stream mode, received reliably.

    open (POST /v1.0/gateway/connections/open) -> WebSocket ?ticket= -> frames
      SYSTEM ping        answered at once, echoing its data
      SYSTEM disconnect  the next link is opened at once; this one drains, then closes
      EVENT              acked at once (DingTalk redelivers unacked ones), handled after
      CALLBACK card      handled, and the handler's CardUpdate is the ack (2 s budget)

Each frame is handled once: redeliveries are dropped by ``messageId`` (bounded, see
``SeenIds``) and answered again with the first answer. Handlers run at most
``concurrency`` at a time, each within its timeout; one that raises or hangs is logged and
answered with code 500 while the link stays up. A failed open or a dead link is retried
after a jittered backoff (1 s doubling to 60 s, reset by a received frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import aiohttp
import msgspec

from .._api.v1 import DEFAULT_API_BASE_URL
from .._errors import ValidationError
from .._redact import Secret
from .._version import __version__
from ._frames import (
    CARD_TOPIC,
    EVENT_LATER,
    EVENT_OK,
    CardAction,
    CardUpdate,
    Frame,
    StreamEvent,
    ack,
)
from ._link import Link
from ._seen import DEDUPE_SECONDS, DEDUPE_SIZE, SeenIds

logger = logging.getLogger("dingnotify.stream")
OPEN_PATH = "/v1.0/gateway/connections/open"
CardHandler = Callable[[CardAction], Awaitable[CardUpdate | None]]
EventHandler = Callable[[StreamEvent], Awaitable[Any]]
State = Literal["idle", "connecting", "connected", "backoff", "closed"]
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
CARD_HANDLER_TIMEOUT = 1.5
"""Seconds a card handler has: DingTalk drops a card callback's answer after 2 s."""


@dataclass
class StreamStats:
    """What the client has done so far (read it any time)."""

    state: State = "idle"
    connects: int = 0
    reconnects: int = 0
    frames_received: int = 0
    frames_acked: int = 0
    frames_duplicated: int = 0
    handler_errors: int = 0
    handler_timeouts: int = 0
    busy: int = 0


class _Credentials(bytes):
    """The open request's body: it carries the app secret, so its repr (a traceback's
    captured locals) does not."""

    def __repr__(self) -> str:
        return "<connections/open body, credentials redacted>"


def _ws_timeouts() -> dict[str, Any]:
    """No receive timeout (the heartbeat and the idle timeout watch the link), 2 s to
    close: ``ClientWSTimeout`` from aiohttp 3.11, the two floats before it."""
    timeouts = getattr(aiohttp, "ClientWSTimeout", None)
    if timeouts is None:
        return {"timeout": 2.0, "receive_timeout": None}
    return {"timeout": timeouts(ws_receive=None, ws_close=2.0)}


class StreamClient:
    """Receive card clicks and events over Stream mode (``await run()``, or ``async with``).

    ``concurrency`` handlers at most run at once and ``max_pending`` frames at most wait
    for one (beyond that a frame is answered busy, and DingTalk pushes it again);
    ``heartbeat`` is the WebSocket ping interval (a link whose pong is ``heartbeat / 2``
    late is replaced), ``idle_timeout`` the longest silence accepted; ``card_timeout``
    and ``event_timeout`` bound each handler. ``session`` is used, not closed.
    """

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        api_base_url: str = DEFAULT_API_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        concurrency: int = 32,
        max_pending: int = 1024,
        heartbeat: float = 10.0,
        idle_timeout: float = 90.0,
        open_timeout: float = 10.0,
        card_timeout: float = CARD_HANDLER_TIMEOUT,
        event_timeout: float = 60.0,
        dedupe_size: int = DEDUPE_SIZE,
        dedupe_seconds: float = DEDUPE_SECONDS,
        backoff: tuple[float, float] = (BACKOFF_FIRST, BACKOFF_MAX),
    ) -> None:
        if not isinstance(app_key, str) or not app_key:
            raise ValidationError("app_key must be a non-empty string")
        if not isinstance(app_secret, str) or not app_secret:
            raise ValidationError("app_secret must be a non-empty string")
        if concurrency < 1 or max_pending < concurrency:
            raise ValidationError("need concurrency >= 1 and max_pending >= concurrency")
        self.app_key = app_key
        self._secret = Secret(app_secret)
        self.api_base_url = api_base_url.rstrip("/")
        self._session = session
        self.heartbeat, self.idle_timeout, self.open_timeout = heartbeat, idle_timeout, \
            open_timeout
        self.card_timeout, self.event_timeout = card_timeout, event_timeout
        self.backoff = backoff
        self.max_pending = max_pending
        self.stats = StreamStats()
        self._slots = asyncio.Semaphore(concurrency)
        self._seen = SeenIds(dedupe_size, dedupe_seconds)
        self._card: CardHandler | None = None
        self._events: dict[str, list[EventHandler]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._links = 0

    # -- registration -----------------------------------------------------------------

    def on_card_action(self, handler: CardHandler) -> CardHandler:
        """Decorator: ``handler(action)`` answers every card click (``CardUpdate`` or
        None for no change)."""
        self._card = handler
        return handler

    def on_event(self, topic: str) -> Callable[[EventHandler], EventHandler]:
        """Decorator: ``handler(event)`` for EVENTs of type ``topic`` (``"*"``: all), or
        CALLBACKs of that topic."""
        def register(handler: EventHandler) -> EventHandler:
            self._events.setdefault(topic, []).append(handler)
            return handler
        return register

    # -- running ----------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until cancelled."""
        own = self._session is None
        session = aiohttp.ClientSession() if own else self._session
        assert session is not None
        failures = 0
        try:
            while True:
                self.stats.state = "connecting"
                try:
                    link = await self._connect(session)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the open or the upgrade failed
                    failures += 1
                    logger.warning("stream: connecting failed (%s); retry %d",
                                   type(exc).__name__, failures)
                    await self._wait_backoff(failures)
                    continue
                received = self.stats.frames_received
                ended = await self._serve(link)
                failures = 0 if self.stats.frames_received > received else failures + 1
                self.stats.reconnects += 1
                if ended:  # dead or closed, not asked to move: back off first
                    logger.warning("stream: link %d ended (%s)", link.number, link.reason)
                    await self._wait_backoff(failures)
        finally:
            self.stats.state = "closed"
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if own:
                await session.close()

    async def _wait_backoff(self, failures: int) -> None:
        self.stats.state = "backoff"
        first, most = self.backoff
        delay = min(most, first * 2 ** max(0, failures - 1)) if failures else 0.0
        await asyncio.sleep(delay + random.uniform(0, min(1.0, first)))

    async def _connect(self, session: aiohttp.ClientSession) -> Link:
        body = _Credentials(msgspec.json.encode(
            {"clientId": self.app_key, "clientSecret": self._secret.reveal(),
             "subscriptions": [{"type": "EVENT", "topic": "*"},
                               {"type": "CALLBACK", "topic": CARD_TOPIC},
                               *({"type": "CALLBACK", "topic": t} for t in self._events
                                 if t.startswith("/"))],
             "ua": f"dingnotify/{__version__}"}))
        timeout = aiohttp.ClientTimeout(total=self.open_timeout)
        async with session.post(self.api_base_url + OPEN_PATH, data=body, timeout=timeout,
                                headers={"Accept": "application/json",
                                         "Content-Type": "application/json"}) as response:
            if response.status != 200:
                raise ConnectionError(f"{OPEN_PATH} answered HTTP {response.status}")
            answer = await response.json(content_type=None)
        endpoint, ticket = answer.get("endpoint"), answer.get("ticket")
        if not isinstance(endpoint, str) or not isinstance(ticket, str):
            raise ConnectionError(f"{OPEN_PATH} answered without endpoint and ticket")
        ws = await session.ws_connect(endpoint, params={"ticket": ticket},
                                      heartbeat=self.heartbeat, **_ws_timeouts())
        self._links += 1
        self.stats.connects += 1
        self.stats.state = "connected"
        logger.info("stream: link %d connected", self._links)
        return Link(ws, self._links, self.idle_timeout)

    async def _serve(self, link: Link) -> bool:
        """Read ``link`` until it ends (True) or the gateway asks us to move (False: the
        link drains in the background)."""
        reader = self._spawn(link.read(self._on_frame))
        moving = asyncio.ensure_future(link.going_away.wait())
        try:
            await asyncio.wait({reader, moving}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            reader.cancel()
            raise
        finally:
            moving.cancel()
        return not link.going_away.is_set()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def __aenter__(self) -> StreamClient:
        self._runner = asyncio.create_task(self.run())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    # -- frames -----------------------------------------------------------------------

    def _on_frame(self, link: Link, frame: Frame) -> None:
        self.stats.frames_received += 1
        message_id = frame.message_id
        if frame.type == "SYSTEM":
            if frame.topic == "disconnect":
                logger.info("stream: link %d asked to disconnect", link.number)
                link.going_away.set()
            elif frame.topic == "ping" and message_id:
                self._spawn(self._ack(link, ack(message_id, 200, (frame.data or "{}").encode())))
            return
        if message_id is None:
            return
        seen = self._seen.get(message_id)
        if seen is not None:
            self.stats.frames_duplicated += 1
            seen.link = link
            if seen.ack is not None:
                self._spawn(self._ack(link, seen.ack))
            return
        if len(self._tasks) >= self.max_pending:
            self.stats.busy += 1
            data = EVENT_LATER if frame.type == "EVENT" else b"{}"
            self._spawn(self._ack(link, ack(message_id, 500, data)))
            return
        entry = self._seen.add(message_id, link)
        if frame.type == "CALLBACK" and frame.topic == CARD_TOPIC:
            self._spawn(self._card_action(frame, entry))
            return
        handlers = [*self._events.get(frame.topic, ()),
                    *self._events.get(str(frame.headers.get("eventType", "")), ()),
                    *(self._events.get("*", ()) if frame.type == "EVENT" else ())]
        if not handlers and frame.type != "EVENT":
            entry.ack = ack(message_id, 404)
        else:
            entry.ack = ack(message_id, 200, EVENT_OK if frame.type == "EVENT" else b"{}")
        self._spawn(self._ack(link, entry.ack))
        if handlers:
            event = StreamEvent.parse(frame)
            for handler in dict.fromkeys(handlers):
                self._spawn(self._run_event(handler, event))

    async def _ack(self, link: Link, text: bytes) -> None:
        if await link.send(text):
            self.stats.frames_acked += 1

    async def _card_action(self, frame: Frame, entry: Any) -> None:
        message_id = frame.message_id or ""
        if self._card is None:
            entry.ack = ack(message_id, 404)
        else:
            action = CardAction.parse(frame)
            try:
                async with self._slots:
                    update = await asyncio.wait_for(self._card(action), self.card_timeout)
                data = update.response() if update is not None else b'{"response":{}}'
                entry.ack = ack(message_id, 200, data)
            except TimeoutError:
                self.stats.handler_timeouts += 1
                logger.error("stream: card handler timed out for %s", action.out_track_id)
                entry.ack = ack(message_id, 500)
            except Exception:
                self.stats.handler_errors += 1
                logger.exception("stream: card handler failed for %s", action.out_track_id)
                entry.ack = ack(message_id, 500)
        await self._ack(entry.link, entry.ack)

    async def _run_event(self, handler: EventHandler, event: StreamEvent) -> None:
        try:
            async with self._slots:
                await asyncio.wait_for(handler(event), self.event_timeout)
        except TimeoutError:
            self.stats.handler_timeouts += 1
            logger.error("stream: event handler timed out for %s", event.event_type)
        except Exception:
            self.stats.handler_errors += 1
            logger.exception("stream: event handler failed for %s", event.event_type)

    def __repr__(self) -> str:
        return f"StreamClient(app_key={self.app_key!r}, state={self.stats.state!r})"
