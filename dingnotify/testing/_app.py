"""``Emulator``: the aiohttp application, its lifecycle and the inspection surface.

A request passes one middleware (count, in-flight, per-IP ban, faults, record) and then a
handler; the handlers share one ``Core``. A ``ConnectionGuard`` closes idle and half-sent
connections. Binding port 0 on 127.0.0.1 and reading the real port back lets
any number of emulators run side by side in a test session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType

from aiohttp import web

from . import _inject
from ._card_inspect import CardInspection, StreamInspection
from ._card_state import CardState
from ._clock import Clock, system_clock
from ._conns import DEFAULT_IDLE_TIMEOUT, ConnectionGuard
from ._core import Core, CrossdomainMessage, ErrorStyle, TopMessage
from ._delivery import Delivery, InboxMessage, Task
from ._faults import FaultPlan
from ._gateway import Gateway
from ._handlers_cards import CardHandlers
from ._handlers_notice import NoticeHandlers
from ._handlers_oapi import OapiHandlers
from ._handlers_robot import RobotHandlers
from ._handlers_top import TopHandlers
from ._handlers_webhook import WebhookRobots, WebhookRobotsMixin
from ._ipban import BAN_STATUS, BanStyle, IpGuard, ban_response
from ._org import App, Org
from ._quota import MonthlyQuota, RecipientWindow
from ._ratelimit import Monotonic, Profile, RateLimiter, RateLimits, resolve_profile
from ._recording import BODY_LIMIT, RECORD_LIMIT, RecordedRequest, Recorder
from ._robot_inspect import RobotInspection
from ._robot_state import RobotState
from ._state import DEFAULT_MEDIA_LIMITS, MediaStore, TokenStore
from ._top_session import SessionCalls
from ._wire import RequestIds

log = logging.getLogger("dingnotify.testing")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 64 * 1024 * 1024
ADMIN_PREFIX = "/_emulator/"


class Emulator(WebhookRobotsMixin, RobotInspection, CardInspection,
               StreamInspection):
    """An offline DingTalk (oapi + TOP gateway) on 127.0.0.1, for tests and benchmarks.

    Use ``async with Emulator() as emu:`` and point a client at ``emu.url``; inspect
    ``emu.requests``, ``emu.inboxes``, ``emu.tasks`` afterwards. ``lean=True`` keeps the wire
    format and validation but skips request recording, inboxes and the per-user delivery
    limits (same-content de-dup, 500 a day), so a client benchmark is not server-bound.

    ``profile`` is ``"unlimited"`` (default), ``"standard"``, ``"professional"`` (alias
    ``"realistic"``), ``"exclusive"`` or a ``RateLimits``. ``monotonic`` drives every
    sliding window (calls, recipients, per-IP) so tests can step it; ``clock`` (wall time)
    drives tokens, days and months. ``idle_timeout`` bounds how long a connection may sit
    idle or half-sent; ``record_limit``/``record_body_limit`` bound what is recorded;
    ``ban_style`` is how the per-IP ban answers (``"json"`` body or ``"html"`` page).
    """

    def __init__(
        self,
        org: Org | None = None,
        *,
        profile: Profile | str = "unlimited",
        faults: FaultPlan | None = None,
        clock: Clock | None = None,
        progress_seconds: float = 0.0,
        read_ratio: float = 0.0,
        seed: int = 0,
        lean: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        result_lists_as_strings: bool = False,
        topapi_error_style: ErrorStyle = "wrapped",
        top_business_failure: bool = False,
        media_limits: Mapping[str, int] | None = None,
        token_ttl: float = 7200,
        monotonic: Monotonic = time.monotonic,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        record_limit: int = RECORD_LIMIT,
        record_body_limit: int = BODY_LIMIT,
        ban_style: BanStyle = "json",
        robot_flow_control_ratio: float = 0.0,
    ) -> None:
        self.org = org if org is not None else Org.synthetic(n_users=200, seed=seed)
        self.clock: Clock = clock if clock is not None else system_clock
        self.monotonic = monotonic
        self.host = host
        self.port = port
        self.lean = lean
        self.faults = faults
        self.ban_style: BanStyle = ban_style
        self.faults_injected: Counter[str] = Counter()
        self._recorder = Recorder(record=not lean, limit=record_limit,
                                  body_limit=record_body_limit)
        self._guard = ConnectionGuard(idle_timeout)
        limits = resolve_profile(profile)
        self._core = Core(
            org=self.org, clock=self.clock,
            tokens=TokenStore(self.clock, seed, ttl=token_ttl),
            media=MediaStore(seed),
            delivery=Delivery(self.org, self.clock, seed=seed, read_ratio=read_ratio,
                              progress_seconds=progress_seconds, lean=lean),
            limiter=RateLimiter(limits, monotonic),
            monthly=MonthlyQuota(limits.monthly_calls, self.clock),
            ip_guard=IpGuard(limits, monotonic),
            request_ids=RequestIds(seed), lean=lean, error_style=topapi_error_style,
            result_lists_as_strings=result_lists_as_strings,
            top_business_failure=top_business_failure,
            media_limits={**DEFAULT_MEDIA_LIMITS, **(media_limits or {})},
        )
        self._install(limits)
        self._robot = RobotState(self._core, seed=seed,
                                 flow_control_ratio=robot_flow_control_ratio)
        self._cards = CardState(self.org.users, seed)
        self._gateway = Gateway(self.org, self._cards,
                                lambda: f"ws://{self.host}:{self.port}/connect", seed)
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.webhook_robots = WebhookRobots(self.clock)  # group webhook robots, by token

    def _install(self, limits: RateLimits) -> None:
        """Every window and quota starts afresh under ``limits``."""
        core = self._core
        core.limiter = RateLimiter(limits, self.monotonic)
        core.monthly = MonthlyQuota(limits.monthly_calls, self.clock)
        core.ip_guard = IpGuard(limits, self.monotonic)
        core.delivery.flow = RecipientWindow(limits.recipients_per_minute, self.monotonic)

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        core = self._core
        notice = NoticeHandlers(core)
        top = TopHandlers(core, SessionCalls(core, notice.session_methods()))
        for handlers in (OapiHandlers(core), notice, top, RobotHandlers(core, self._robot)):
            app.add_routes(handlers.routes())
        app.add_routes(self.webhook_robots.routes())  # group webhook robots
        app.add_routes(CardHandlers(core, self._robot, self._cards).routes())
        app.add_routes(self._gateway.routes())
        app.add_routes([web.get(ADMIN_PREFIX + "stats", self._stats_handler),
                        web.post(ADMIN_PREFIX + "reset", self._reset_handler)])
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               shutdown_timeout=0.25, keepalive_timeout=self._guard.timeout)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        assert runner.server is not None
        self._sweeper = asyncio.create_task(self._guard.run(runner.server))
        self.port = runner.addresses[0][1]
        log.debug("emulator listening on %s", self.url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await self._gateway.close()
        if runner is not None:
            await runner.cleanup()

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until no request is being handled, delayed ones included: read inboxes after
        this rather than after a guessed sleep. Raises ``TimeoutError`` past ``timeout``."""
        async with asyncio.timeout(timeout):
            await self._recorder.idle()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def run_forever(self, on_ready: Callable[[Emulator], None] | None = None) -> None:
        """Serve until Ctrl-C / SIGTERM (for ``python -m dingnotify.testing``)."""

        async def serve() -> None:
            import signal

            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
                    loop.add_signal_handler(sig, stop.set)
            async with self:
                if on_ready is not None:
                    on_ready(self)
                await stop.wait()

        asyncio.run(serve())

    # -- the one middleware -------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        recorder = self._recorder
        recorder.enter(path)
        self._guard.entered(request)
        body = b""
        response: web.StreamResponse | None = None
        banned = self._ban_left(request)
        fault = self.faults.pick(path) if self.faults is not None and banned is None else None
        if fault is not None and fault.kind == "ok":
            fault = None
        kind = None if fault is None else fault.kind
        try:
            if recorder.record and request.can_read_body and \
                    not request.content_type.startswith("multipart/"):
                body = await request.read()
            if banned is not None:
                response = ban_response(banned, self.ban_style)
            elif fault is None:
                response = await handler(request)
            else:
                self.faults_injected[fault.kind] += 1
                response = await _inject.apply(fault, request, handler,
                                               self._core.request_ids, self.revoke_tokens)
        except _inject.Dropped:
            response = None
        finally:
            recorder.leave(path)
            self._guard.left(request)
        if recorder.record:
            recorder.add(request, body, response, kind)
        return response if response is not None else web.Response(status=499)

    def _ban_left(self, request: web.Request) -> float | None:
        """Seconds of per-IP ban left for this request (admin paths are never banned)."""
        if request.path.startswith(ADMIN_PREFIX):
            return None
        left = self._core.ip_guard.check(request.remote or "")
        if left is not None:
            self._core.throttled[BAN_STATUS] += 1
        return left

    # -- admin API for an emulator in another process (benchmarks, users' scripts) -----

    def stats(self) -> dict[str, object]:
        """Counters as plain JSON: per-path counts, throttles, faults, server CPU seconds.

        ``throttled`` is keyed by errcode (TOP code 7 on the gateway, 1111 for per-IP ban
        answers); ``undelivered`` counts recipients of accepted sends that got nothing, by
        forbidden code (``41047`` = recipients-per-minute budget).
        """
        return {
            "counts": dict(self.counts),
            "throttled": {str(code): n for code, n in self.throttled.items()},
            "undelivered": dict(self.undelivered),
            "undelivered_total": self.undelivered.total(),
            "ip_bans": self._core.ip_guard.bans,
            "faults_injected": dict(self.faults_injected),
            "tasks": len(self.tasks),
            "tokens_issued": self.tokens_issued,
            "max_in_flight": self.max_in_flight,
            "records_dropped": self.records_dropped,
            "connections_closed": self.connections_closed,
            "cpu_seconds": time.process_time(),
        }

    async def _stats_handler(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _reset_handler(self, request: web.Request) -> web.Response:
        """Between benchmark runs: counters, windows, bans and quotas start afresh."""
        self.reset_stats()
        self._install(self.limits)
        return web.json_response({"ok": True})

    # -- inspection ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def top_url(self) -> str:
        return self.url + "/router/rest"

    @property
    def app(self) -> App:
        return self.org.apps[0]

    @property
    def top_app(self) -> App:
        return self.org.top_apps[0]

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._recorder.requests

    @property
    def counts(self) -> Counter[str]:
        return self._recorder.counts

    def count(self, path: str) -> int:
        return self._recorder.counts[path]

    @property
    def max_in_flight(self) -> int:
        return self._recorder.max_in_flight

    @property
    def max_in_flight_by_path(self) -> dict[str, int]:
        return self._recorder.max_in_flight_by_path

    @property
    def inboxes(self) -> dict[str, list[InboxMessage]]:
        return self._core.delivery.inboxes

    @property
    def tasks(self) -> dict[int, Task]:
        return self._core.delivery.tasks

    @property
    def crossdomain_messages(self) -> list[CrossdomainMessage]:
        return self._core.crossdomain_messages

    @property
    def top_messages(self) -> list[TopMessage]:
        return self._core.top_messages

    @property
    def tokens_issued(self) -> int:
        return self._core.tokens.issued

    @property
    def duplicates_dropped(self) -> int:
        return self._core.delivery.duplicates_dropped

    @property
    def throttled(self) -> Counter[int]:
        return self._core.throttled

    @property
    def limits(self) -> RateLimits:
        return self._core.limiter.limits

    @limits.setter
    def limits(self, profile: Profile | str) -> None:
        """Switch profile at run time; every window, ban and quota starts afresh."""
        self._install(resolve_profile(profile))

    @property
    def undelivered(self) -> Counter[str]:
        """Recipients of accepted sends that were silently not delivered, by forbidden code."""
        return self._core.delivery.undelivered

    def monthly_calls_used(self, app_key: str | None = None) -> int:
        """Calls counted toward the monthly quota this month (first app by default)."""
        return self._core.monthly.used(app_key or self.app.app_key)

    @property
    def records_dropped(self) -> int:
        """Recorded requests dropped (oldest first) to stay within ``record_limit``."""
        return self._recorder.dropped

    @property
    def connections_closed(self) -> int:
        """Idle or half-sent connections closed by the idle timeout."""
        return self._guard.closed

    def revoke_tokens(self) -> None:
        """Invalidate every token: the next call with one gets 40014 (88-wrapped on /topapi)."""
        self._core.tokens.revoke_all()
        self._robot.tokens.revoke_all()

    def register_media(self, media_id: str, media_type: str = "image") -> None:
        """Accept ``media_id`` in messages as if it had been uploaded here."""
        self._core.media.register(media_id, media_type)

    def reset_stats(self) -> None:
        """Forget recorded requests, counts, in-flight maxima, throttle, undelivered and fault
        counters."""
        self._recorder.reset()
        self._core.throttled.clear()
        self._core.delivery.undelivered.clear()
        self.faults_injected.clear()

    def __repr__(self) -> str:
        state = self.url if self._runner is not None else "stopped"
        return f"<Emulator {state} users={len(self.org.users)} lean={self.lean}>"
