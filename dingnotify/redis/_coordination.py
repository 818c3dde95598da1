"""``RedisCoordination``: one Redis connection pool per event loop and the shared pieces
built on it."""

from __future__ import annotations

from types import TracebackType
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .._errors import ValidationError
from .._quota import Quota
from ._clients import LoopClients
from ._governor import RedisGovernor
from ._health import Health
from ._token import RedisTokenLock, RedisTokenStore

# A slow Redis is an answer, not an outage (see ``_health``): one read or connect may take
# a second, one operation (a cold connection: connect, script load, script) two.
DEFAULT_SOCKET_TIMEOUT = 1.0
DEFAULT_OP_TIMEOUT = 2.0
DEFAULT_LOCK_TIMEOUT = 15.0
DEFAULT_RETRY_INTERVAL = 1.0
DEFAULT_PROCESSES = 4


_SCHEMES = ("redis", "rediss", "unix")


def _client(url: object, socket_timeout: float) -> Redis | str:
    """A lazily connecting client for ``url``, or a message (without the URL) saying why not.

    Nothing raised in here leaves this frame: the library's messages may quote the URL
    (a password with a ``/`` in it reads as a port), so only our own words go out.
    """
    if not isinstance(url, str) or not url.strip():
        return "the Redis URL must be a non-empty string"
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "the Redis URL is malformed (check its host and port; quote special " \
               "characters in the password)"
    if scheme not in _SCHEMES:
        return "the Redis URL must start with redis://, rediss:// or unix://"
    if scheme != "unix" and not parts.hostname:
        return "the Redis URL has no host"
    try:
        return Redis.from_url(url, socket_timeout=socket_timeout,
                              socket_connect_timeout=socket_timeout,
                              retry_on_timeout=False, retry=Retry(NoBackoff(), 0))
    except (ValueError, TypeError):
        return "the Redis URL is not valid (check its port, database number and options)"


class RedisCoordination:
    """Shares one app's tokens and quota windows between processes through Redis.

    Pass it to ``DingTalkClient(coordination=...)`` in every process of the app, with the
    same ``namespace``. ``processes`` is how many processes you expect to share the app:
    while Redis is unavailable each paces itself on 1/``processes`` of every budget (never
    unpaced), logs one warning, and shares again once Redis answers (it asks at most every
    ``retry_interval`` seconds). ``lock_timeout`` bounds how long a crashed token fetcher
    can keep the others waiting. The client uses this object and leaves it open: close it
    with ``aclose()`` or ``async with``.

    One coordination may serve several event loops in turn (one ``asyncio.run`` per
    Celery task or script run): each loop gets a client of its own with the same
    connection settings. A wrong password, or a host name that does not resolve before
    Redis ever answered, raises ``RedisConfigurationError`` from the first call that needs
    Redis: a mistake, not an outage.
    """

    def __init__(
        self,
        client: Redis,
        *,
        namespace: str = "default",
        processes: int = DEFAULT_PROCESSES,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        op_timeout: float = DEFAULT_OP_TIMEOUT,
    ) -> None:
        if not isinstance(namespace, str) or not namespace or any(c in namespace for c in "{}"):
            raise ValidationError("namespace must be a non-empty string without braces")
        if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
            raise ValidationError("processes must be a positive int")
        for name, value in (("lock_timeout", lock_timeout), ("op_timeout", op_timeout),
                            ("retry_interval", retry_interval)):
            if not isinstance(value, int | float) or not 0 < value < float("inf"):
                raise ValidationError(f"{name} must be a positive number")
        self._clients = LoopClients(client)
        self._governors: dict[tuple[str, Quota], RedisGovernor] = {}
        self.namespace = namespace
        self.processes = processes
        self.lock_timeout = lock_timeout
        self.health = Health(op_timeout=op_timeout, retry_interval=retry_interval)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "default",
        processes: int = DEFAULT_PROCESSES,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        op_timeout: float = DEFAULT_OP_TIMEOUT,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
    ) -> RedisCoordination:
        """Connect lazily to ``url`` with short timeouts and no retries inside redis-py
        (a slow Redis must cost a call at most ``op_timeout``, not several attempts).

        A malformed URL raises ``ValidationError`` naming the problem, never the URL: no
        message, chained exception or frame of the traceback holds its password.
        """
        client = _client(url, socket_timeout)
        del url  # from here on, no frame of ours holds the raw URL
        if isinstance(client, str):
            raise ValidationError(client)
        return cls(client, namespace=namespace, processes=processes,
                   lock_timeout=lock_timeout, retry_interval=retry_interval,
                   op_timeout=op_timeout)

    @property
    def client(self) -> Redis:
        """The Redis client of the running event loop (of the last one outside a loop)."""
        try:
            return self._clients.current()
        except RuntimeError:  # no running loop
            return self._clients.latest()

    @property
    def available(self) -> bool:
        """False while Redis is known unreachable (this process then paces locally)."""
        return not self.health.down

    def token_store(self) -> RedisTokenStore:
        """Tokens shared by every process, under ``dingnotify:{namespace}:token:``."""
        return RedisTokenStore(self._clients, f"dingnotify:{{{self.namespace}}}:token:",
                               self.health)

    def token_lock(self, key: str) -> RedisTokenLock:
        """The lock one process holds while it fetches the token ``key`` for all."""
        return RedisTokenLock(self._clients, f"dingnotify:{{{self.namespace}}}:lock:{key}",
                              self.health, timeout=self.lock_timeout)

    def governor(self, app_key: str, quota: Quota) -> RedisGovernor:
        """The quota windows of ``app_key``, shared by every process of the namespace (one
        governor per app and quota in this process, however many clients ask)."""
        governor = self._governors.get((app_key, quota))
        if governor is None:
            prefix = f"dingnotify:{{{self.namespace}:{app_key}}}:"
            governor = self._governors[app_key, quota] = RedisGovernor(
                self._clients, prefix, quota, self.health, processes=self.processes)
        return governor

    async def aclose(self) -> None:
        """Send what the governors still owe Redis, stop their background checks and close
        this loop's connection pool (the client never does: it only uses this object)."""
        for governor in self._governors.values():
            await governor.aclose()
        await self._clients.aclose()

    async def __aenter__(self) -> RedisCoordination:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"RedisCoordination(namespace={self.namespace!r}, available={self.available})"
