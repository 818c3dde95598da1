"""``Emulator``: the aiohttp application, its lifecycle and the inspection surface.

A request passes one middleware (count, in-flight, faults, record) and then a handler; the
handlers share one ``Core``. Binding port 0 on 127.0.0.1 and reading the real port back lets
any number of emulators run side by side in a test session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType

from aiohttp import web

from . import _inject
from ._clock import Clock, system_clock
from ._core import Core, CrossdomainMessage, ErrorStyle, TopMessage
from ._delivery import Delivery, InboxMessage, Task
from ._faults import FaultPlan
from ._handlers_notice import NoticeHandlers
from ._handlers_oapi import OapiHandlers
from ._handlers_robot import RobotHandlers
from ._handlers_top import TopHandlers
from ._org import App, Org
from ._ratelimit import Profile, RateLimiter, RateLimits, resolve_profile
from ._recording import RecordedRequest, Recorder
from ._robot_inspect import RobotInspection
from ._robot_state import RobotState
from ._state import DEFAULT_MEDIA_LIMITS, MediaStore, TokenStore
from ._wire import RequestIds

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 64 * 1024 * 1024


class Emulator(RobotInspection):
    """An offline DingTalk (oapi + TOP gateway) on 127.0.0.1, for tests and benchmarks.

    Use ``async with Emulator() as emu:`` and point a client at ``emu.url``; inspect
    ``emu.requests``, ``emu.inboxes``, ``emu.tasks`` afterwards. ``lean=True`` keeps the wire
    format and validation but skips request recording, inboxes and the per-user delivery
    limits (same-content de-dup, 500 a day), so a client benchmark is not server-bound.
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
        robot_flow_control_ratio: float = 0.0,
    ) -> None:
        self.org = org if org is not None else Org.synthetic(n_users=200, seed=seed)
        self.clock: Clock = clock if clock is not None else system_clock
        self.host = host
        self.port = port
        self.lean = lean
        self.faults = faults
        self.faults_injected: Counter[str] = Counter()
        self._recorder = Recorder(record=not lean)
        self._core = Core(
            org=self.org, clock=self.clock,
            tokens=TokenStore(self.clock, seed, ttl=token_ttl),
            media=MediaStore(seed),
            delivery=Delivery(self.org, self.clock, seed=seed, read_ratio=read_ratio,
                              progress_seconds=progress_seconds, lean=lean),
            limiter=RateLimiter(resolve_profile(profile)),
            request_ids=RequestIds(seed), lean=lean, error_style=topapi_error_style,
            result_lists_as_strings=result_lists_as_strings,
            top_business_failure=top_business_failure,
            media_limits={**DEFAULT_MEDIA_LIMITS, **(media_limits or {})},
        )
        self._robot = RobotState(self._core, seed=seed,
                                 flow_control_ratio=robot_flow_control_ratio)
        self._runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        core = self._core
        for handlers in (OapiHandlers(core), NoticeHandlers(core), TopHandlers(core),
                         RobotHandlers(core, self._robot)):
            app.add_routes(handlers.routes())
        app.add_routes([web.get("/_emulator/stats", self._stats_handler),
                        web.post("/_emulator/reset", self._reset_handler)])
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               shutdown_timeout=0.25)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.debug("emulator listening on %s", self.url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def run_forever(self, on_ready: Callable[[Emulator], None] | None = None) -> None:
        """Serve until Ctrl-C / SIGTERM (for ``python -m dingnotify.testing``)."""

        async def serve() -> None:
            import contextlib
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
        body = b""
        response: web.StreamResponse | None = None
        fault = self.faults.pick(path) if self.faults is not None else None
        if fault is not None and fault.kind == "ok":
            fault = None
        kind = None if fault is None else fault.kind
        try:
            if recorder.record and request.can_read_body and \
                    not request.content_type.startswith("multipart/"):
                body = await request.read()
            if fault is None:
                response = await handler(request)
            else:
                self.faults_injected[fault.kind] += 1
                response = await _inject.apply(fault, request, handler,
                                               self._core.request_ids, self.revoke_tokens)
        except _inject.Dropped:
            response = None
        finally:
            recorder.leave(path)
        if recorder.record:
            recorder.add(request, body, response, kind)
        return response if response is not None else web.Response(status=499)

    # -- admin API for an emulator in another process (benchmarks, users' scripts) -----

    def stats(self) -> dict[str, object]:
        """Counters as plain JSON: per-path counts, throttles, faults, server CPU seconds."""
        return {
            "counts": dict(self.counts),
            "throttled": {str(code): n for code, n in self.throttled.items()},
            "faults_injected": dict(self.faults_injected),
            "tasks": len(self.tasks),
            "tokens_issued": self.tokens_issued,
            "max_in_flight": self.max_in_flight,
            "cpu_seconds": time.process_time(),
        }

    async def _stats_handler(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _reset_handler(self, request: web.Request) -> web.Response:
        """Between benchmark runs: counters and the rate-limit windows start afresh."""
        self.reset_stats()
        self._core.limiter.reset()
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
        self._core.limiter = RateLimiter(resolve_profile(profile))

    def revoke_tokens(self) -> None:
        """Invalidate every token: the next call with one gets 40014 (88-wrapped on /topapi)."""
        self._core.tokens.revoke_all()
        self._robot.tokens.revoke_all()

    def register_media(self, media_id: str, media_type: str = "image") -> None:
        """Accept ``media_id`` in messages as if it had been uploaded here."""
        self._core.media.register(media_id, media_type)

    def reset_stats(self) -> None:
        """Forget recorded requests, counts, in-flight maxima, throttle and fault counters."""
        self._recorder.reset()
        self._core.throttled.clear()
        self.faults_injected.clear()

    def __repr__(self) -> str:
        state = self.url if self._runner is not None else "stopped"
        return f"<Emulator {state} users={len(self.org.users)} lean={self.lean}>"
