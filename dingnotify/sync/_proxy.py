"""Blocking views of the async objects, typed from the async signatures themselves.

``blocking(AsyncClass.method)`` is a descriptor whose type is the async method's own
parameters (``ParamSpec``) returning what its coroutine returns, so a keyword added to
the async method reaches sync callers and type checkers with no edit here. At run time
every attribute a proxy does not declare is forwarded too (``__getattr__``): a method
runs on the loop, a resource (an object with coroutine methods) becomes a proxy, any
other value is returned as it is; type checkers see only what is declared, and
``tests/sync/test_signatures.py`` fails until every public async method is declared.
"""

from __future__ import annotations

import inspect
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from functools import update_wrapper
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from .. import ClientClosedError
from ._loop import LoopThread

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R", bound="Proxy")

_LIFECYCLE = frozenset({"aclose", "close"})


class Proxy:
    """A blocking view of the object at ``path`` from the sync client's async client."""

    def __init__(self, root: SyncClient[Any], path: tuple[str, ...]) -> None:
        self._root = root
        self._path = path

    def _target(self, live: bool = True) -> Any:
        """The async object; ``live=False`` also reads a closed client's attributes."""
        target = self._root._async_client() if live else self._root._state.client
        for name in self._path:
            target = getattr(target, name)
        return target

    def _run(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        method = getattr(self._target(), name)
        return self._root._loop.call(method, *args, **kwargs)

    def _bind(self, name: str, source: Callable[..., Any] | None = None) -> Callable[..., Any]:
        """The blocking method ``name``, built once per proxy (kept in its ``__dict__``)."""
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._run(name, args, kwargs)

        if source is None:
            source = getattr(type(self._target(live=False)), name)
        update_wrapper(call, source)
        del call.__wrapped__  # type: ignore[attr-defined]  # it would look async
        call.__signature__ = _without_self(source)  # type: ignore[attr-defined]
        self.__dict__[name] = call
        return call

    if not TYPE_CHECKING:  # type checkers see the declared members only

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):
                raise AttributeError(name)
            value = getattr(self._target(live=False), name)
            if _declared_value(type(self), name):
                return value
            if inspect.ismethod(value) and name not in _LIFECYCLE:
                return self._bind(name)
            if _is_resource(value):
                return Proxy(self._root, (*self._path, name))
            return value

    def __repr__(self) -> str:
        return f"<blocking {self._target(live=False)!r}>"


class BlockingMethod(Generic[P, T]):
    """A method of a proxy: the async method's parameters, its coroutine's result."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.name = name = function.__name__

        def unbound(proxy: Proxy, /, *args: Any, **kwargs: Any) -> Any:
            return proxy._run(name, args, kwargs)

        update_wrapper(unbound, function)
        del unbound.__wrapped__  # type: ignore[attr-defined]  # it would look async
        unbound.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
        self.unbound = unbound
        """What the class gives (``WorkNotice.send``): the async signature, for
        ``inspect``, ``help()`` and the API reference."""

    @overload
    def __get__(self, proxy: None, owner: type[Any]) -> Callable[..., T]: ...
    @overload
    def __get__(self, proxy: Proxy, owner: type[Any] | None = None) -> Callable[P, T]: ...
    def __get__(self, proxy: Proxy | None, owner: type[Any] | None = None
                ) -> Callable[..., T] | Callable[P, T]:
        if proxy is None:
            return self.unbound
        return proxy._bind(self.name, self.function)


def blocking(function: Callable[Concatenate[Any, P], Awaitable[T]]) -> BlockingMethod[P, T]:
    """Declare ``function`` (an ``async def`` of the async class) on a proxy."""
    return BlockingMethod(function)


def plain(function: Callable[Concatenate[Any, P], T]) -> BlockingMethod[P, T]:
    """Declare a plain method of the async class on a proxy (it runs on the loop too)."""
    return BlockingMethod(function)


class Resource(Generic[R]):
    """A resource attribute of a sync client (``client.work_notice``): a typed proxy."""

    def __init__(self, proxy: type[R]) -> None:
        self.proxy = proxy

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, owner: None, kind: type[Any]) -> Resource[R]: ...
    @overload
    def __get__(self, owner: Proxy, kind: type[Any] | None = None) -> R: ...
    def __get__(self, owner: Proxy | None, kind: type[Any] | None = None) -> Resource[R] | R:
        if owner is None:
            return self
        proxy = self.proxy(owner._root, (*owner._path, self.name))
        owner.__dict__[self.name] = proxy  # built once per client
        return proxy


class Factory(Generic[A]):
    """The async class and its arguments, to build the client again after a fork; its
    repr names the class only, since the arguments hold credentials."""

    __slots__ = ("_args", "_kwargs", "cls")

    def __init__(self, cls: Callable[..., A], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        self.cls, self._args, self._kwargs = cls, args, kwargs

    def __call__(self) -> A:
        return self.cls(*self._args, **self._kwargs)

    def __repr__(self) -> str:
        return f"<arguments of {getattr(self.cls, '__name__', 'a client')}>"


class _State(Generic[A]):
    """What closing needs, held apart from the client so a finalizer can close it."""

    def __init__(self, client: A) -> None:
        self.client = client
        self.pid = os.getpid()
        self.closed = False
        self.lock = threading.Lock()


class SyncClient(Proxy, Generic[A]):
    """The blocking client: an async client on a private event loop thread.

    Threads share it; it is closed by ``close()``, ``with``, garbage collection or
    interpreter exit, whichever comes first.
    """

    def __init__(self, factory: Factory[A]) -> None:
        super().__init__(self, ())
        self._factory = factory
        name = f"dingnotify.sync.{getattr(factory.cls, '__name__', 'client')}"
        self._state = _State(factory())  # bad arguments raise here, in the caller
        self._loop = LoopThread(name)
        self._finalizer = weakref.finalize(self, _shutdown, self._state, self._loop)

    def _async_client(self) -> A:
        state = self._state
        if state.closed:
            raise ClientClosedError(f"this {type(self).__name__} is closed; create a new one")
        if state.pid != os.getpid():  # forked: the parent's client belongs to its loop
            with state.lock:
                if state.pid != os.getpid():
                    state.client, state.pid = self._factory(), os.getpid()
        return state.client

    @property
    def async_client(self) -> A:
        """The async client underneath (to hand to async code running on its loop)."""
        return self._async_client()

    def close(self) -> None:
        """Let calls in flight finish (``close_grace`` seconds at most), close the pool
        and stop the loop thread. Idempotent; later calls raise ``ClientClosedError``."""
        LoopThread.refuse_running_loop(f"{type(self).__name__}.close()")
        self._finalizer()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        closed = " (closed)" if self._state.closed else ""
        return f"<sync {self._state.client!r}{closed}>"


def _shutdown(state: _State[Any], loop: LoopThread) -> None:
    if state.closed:
        return
    state.closed = True
    if state.pid == os.getpid():
        try:
            loop.call(state.client.aclose)
        finally:
            loop.stop()


def _declared_value(cls: type, name: str) -> bool:
    """``name`` is annotated on the proxy: a value handed over as it is."""
    return any(name in vars(klass).get("__annotations__", {}) for klass in cls.__mro__)


def _is_resource(value: object) -> bool:
    return type(value).__module__.startswith("dingnotify.") and any(
        inspect.iscoroutinefunction(member) for name, member in
        inspect.getmembers(type(value), inspect.isfunction) if not name.startswith("_"))


def _without_self(function: Callable[..., Any]) -> inspect.Signature:
    signature = inspect.signature(function)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def constructor_of(
    cls: Callable[P, Any],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, P], None]]:
    """Give the decorated ``__init__`` the async class's parameters (for type checkers
    and ``inspect.signature``)."""
    def decorate(init: Callable[..., None]) -> Callable[Concatenate[Any, P], None]:
        init.__signature__ = inspect.signature(cls.__init__)  # type: ignore[attr-defined]
        init.__doc__ = cls.__doc__
        return init

    return decorate


class AsyncOnly:
    """A method of the async class that hands back something only async code can use
    (an async context manager, a client of its own event loop): on a blocking proxy it
    raises ``TypeError`` naming the async way."""

    def __init__(self, function: Callable[..., Any], use: str) -> None:
        self.function = function
        self.name = function.__name__
        self.use = use

    def __get__(self, proxy: Proxy | None, owner: type[Any] | None = None) -> Any:
        if proxy is None:
            return self
        raise TypeError(f"{self.name}() is async-only: {self.use}")


def async_only(function: Callable[..., Any], use: str) -> Any:
    """Declare a method of the async class that has no blocking form."""
    return AsyncOnly(function, use)

