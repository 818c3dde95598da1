"""``LoopThread``: one private event loop on a daemon thread, for blocking callers.

Like ``WebhookHandler``'s worker, the async client lives on a loop of its own in a thread
of its own, so any number of threads can share it: each call is handed to that loop and
the caller blocks on the answer. After ``os.fork()`` the thread does not exist in the
child; ``LoopThread`` notices the new pid and starts a fresh one (the owner rebuilds what
belonged to the old loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import threading
from collections.abc import Callable
from typing import Any

from .. import ClientClosedError, DingNotifyError


class RunningLoopError(DingNotifyError, RuntimeError):
    """A sync client was called from a thread running an event loop (blocking it).

    In async code use the async client (``dingnotify.DingTalkClient``) with ``await``.
    """


class LoopThread:
    """A lazily started event loop thread; ``call`` runs a function on it and waits."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._stopped = False

    @property
    def forked(self) -> bool:
        """True in a child process forked after the thread started (it is gone there)."""
        return self._pid != os.getpid()

    def call(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` on the loop, awaited if it returns an awaitable.

        The caller blocks until it is done; interrupted (Ctrl-C), it cancels the call.
        """
        if threading.current_thread() is self._thread:
            raise RunningLoopError(f"{self._name} was called from its own event loop "
                                   "(a callback?): use the async client there")
        self.refuse_running_loop(self._name)
        loop = self._running()
        future = asyncio.run_coroutine_threadsafe(_invoke(function, args, kwargs), loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            if self._loop is loop:
                raise
            raise ClientClosedError(f"{self._name} was closed during this call") from None
        except BaseException:
            future.cancel()
            raise

    def stop(self, timeout: float | None = None) -> None:
        """Stop the loop and join the thread (a no-op if it never started or was forked)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
            self._stopped = not self.forked
        if loop is None or thread is None or self.forked:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join(timeout)

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._stopped and not self.forked:  # a call racing close(): no new loop
                raise ClientClosedError(f"{self._name} is closed; create a new one")
            if self._loop is None or self.forked:
                self._start()
            assert self._loop is not None
            return self._loop

    def _start(self) -> None:
        self._pid, self._stopped = os.getpid(), False
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            try:
                loop.run_forever()
            finally:
                _cancel_remaining(loop)
                loop.close()

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        started.wait()
        self._loop = loop

    @staticmethod
    def refuse_running_loop(name: str) -> None:
        """Raise ``RunningLoopError`` if this thread runs an event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise RunningLoopError(
            f"{name} blocks, and this thread runs an event loop: in async code use the "
            "async client (dingnotify.DingTalkClient, dingnotify.TopClient, "
            "dingnotify.webhook.WebhookRobot) with await")


async def _invoke(function: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> Any:
    result = function(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is still scheduled, so no coroutine is left never awaited."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        gathered = asyncio.gather(*tasks, return_exceptions=True)
        loop.run_until_complete(gathered)
    loop.run_until_complete(loop.shutdown_asyncgens())


