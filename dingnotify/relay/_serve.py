"""``Relay``: the queue, the HTTP server and the deliverer, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from aiohttp import web

from .. import Coordination, DingTalkClient, Governor
from ..webhook import WebhookRobot
from ._bell import Bell
from ._config import RelayConfig
from ._deliver import Deliverer
from ._digest import PER_MINUTE
from ._http import RelayApp
from ._metrics import Metrics
from ._queue import Queue

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 9095


class Relay:
    """``async with Relay(config, client) as relay:`` serves on ``relay.url`` until closed.

    ``client`` is used, not closed; the group robots of webhook routes are built here (their
    budget in ``coordination`` when given) and closed on exit. ``webhook_window`` is how
    many messages the relay sends each group robot per how many seconds (19 per 60: one
    below DingTalk's 20, for another sender's message). ``governor``, the one given to the
    client as ``quota=``, feeds ``/metrics`` the seconds its quota made calls wait.
    """

    def __init__(self, config: RelayConfig, client: DingTalkClient, *,
                 host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 coordination: Coordination | None = None, concurrency: int = 8,
                 webhook_window: tuple[int, float] = (PER_MINUTE, 60.0),
                 governor: Governor | None = None) -> None:
        self.config, self.client = config, client
        self.host, self.port = host, port
        self.metrics = Metrics()
        if governor is not None:
            self.metrics.wait_seconds = lambda: governor.waited
        self._coordination = coordination
        self._concurrency = concurrency
        self._webhook_window = webhook_window
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._robots: dict[str, WebhookRobot] = {}
        self.queue: Queue | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Open the queue, then listen: nothing is accepted before the queue can commit."""
        self.queue = await Queue.open(self.config.queue, limit=self.config.queue_limit)
        self._robots = {
            r.name: WebhookRobot(r.webhook.url, r.webhook.secret,
                                 coordination=self._coordination)
            for r in self.config.routes if r.webhook is not None}
        bell = Bell()
        self._runner = web.AppRunner(RelayApp(self.config, self.queue, self.metrics,
                                              bell).build(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]
        deliverer = Deliverer(self.client, self.queue, self.metrics, bell, self._robots,
                              concurrency=self._concurrency,
                              webhook_window=self._webhook_window)
        self._task = asyncio.create_task(deliverer.run())

    async def wait(self) -> None:
        """Until the deliverer stops (it only does by failing or being cancelled)."""
        assert self._task is not None
        await self._task

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._runner is not None:
            await self._runner.cleanup()
        for robot in self._robots.values():
            await robot.aclose()
        if self.queue is not None:
            await self.queue.close()

    async def __aenter__(self) -> Relay:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()
