"""``ConnectorOptions``: the connection-pool knobs of the default transport, as one value.

Also the bridge from the keywords it replaces (``max_connections=``, ``keepalive_timeout=``,
``dns_cache_ttl=``, ``ssl=`` on the clients and ``AiohttpTransport``), deprecated for one
release: ``**deprecated: Unpack[...]`` keeps those constructors' signatures typed.
"""

from __future__ import annotations

import math
import ssl as ssl_module
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypedDict

from ._constants import DEFAULT_DNS_CACHE_TTL, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_MAX_CONNECTIONS
from ._errors import ValidationError


@dataclass(frozen=True, slots=True)
class ConnectorOptions:
    """How the pool the client creates (an ``aiohttp.TCPConnector``) connects.

    ``DingTalkClient(..., connector=ConnectorOptions(max_connections=20))``; also
    ``TopClient(connector=...)`` and ``AiohttpTransport(connector=...)``. Not for a client
    given ``transport=`` or ``session=``: those bring their own pool.

    - ``max_connections``: ``limit``, the connections open at once over all hosts; a call
      beyond it waits for a free one. 100 (aiohttp's own default) is far above the 16
      workers a broadcast runs by default and DingTalk's 20–60 calls a second, yet bounded.
    - ``keepalive_timeout``: seconds an idle connection stays pooled for reuse. 30 (aiohttp
      says 15) keeps calls spaced out by the quota governor, and ``wait``'s polls, on a warm
      TLS connection, while staying under the idle timeouts common in load balancers (60 s).
    - ``dns_cache_ttl``: ``ttl_dns_cache``, seconds a resolved address is reused (0: resolve
      for every new connection). 300 (aiohttp says 10): the client talks to two or three
      hosts, so a broadcast need not resolve them again every ten seconds, and a DNS change
      is still followed within five minutes.
    - ``ssl``: ``True`` verifies certificates against the default CA store; an
      ``ssl.SSLContext`` brings your own CAs or client certificate; ``False`` turns
      verification off (only ever for a local test server).
    """

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    dns_cache_ttl: int = DEFAULT_DNS_CACHE_TTL
    ssl: bool | ssl_module.SSLContext = True

    def __post_init__(self) -> None:
        if not _is_int(self.max_connections) or self.max_connections < 1:
            raise ValidationError("max_connections must be an int of at least 1")
        keepalive = self.keepalive_timeout
        if (isinstance(keepalive, bool) or not isinstance(keepalive, int | float)
                or not math.isfinite(keepalive) or keepalive < 0):
            raise ValidationError("keepalive_timeout must be a finite number of seconds >= 0")
        if not _is_int(self.dns_cache_ttl) or self.dns_cache_ttl < 0:
            raise ValidationError("dns_cache_ttl must be an int of seconds >= 0")
        if not isinstance(self.ssl, bool | ssl_module.SSLContext):
            raise ValidationError("ssl must be True, False or an ssl.SSLContext")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class PoolKeywords(TypedDict, total=False):
    """The deprecated connector keywords of ``TopClient``."""

    max_connections: int
    ssl: bool | ssl_module.SSLContext


class ConnectorKeywords(PoolKeywords, total=False):
    """The deprecated connector keywords of ``DingTalkClient`` and ``AiohttpTransport``."""

    keepalive_timeout: float
    dns_cache_ttl: int


CONNECTOR_FIELDS = tuple(f.name for f in fields(ConnectorOptions))


def connector_options(
    owner: str,
    connector: ConnectorOptions | None,
    deprecated: Mapping[str, Any],
    *,
    accepted: Collection[str] = CONNECTOR_FIELDS,
    stacklevel: int,
) -> ConnectorOptions | None:
    """``connector``, or the options the deprecated keywords spell, after one warning.

    ``stacklevel`` is what ``warnings.warn`` would take in the caller of this function:
    the warning names the line that called ``owner``.
    """
    for name in deprecated:
        if name not in accepted:
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}")
    if connector is not None and not isinstance(connector, ConnectorOptions):
        raise ValidationError("connector must be a ConnectorOptions")
    if not deprecated:
        return connector
    given = [name for name in CONNECTOR_FIELDS if name in deprecated]
    if connector is not None:
        raise ValidationError(f"give connector= or {'=, '.join(given)}=, not both")
    warnings.warn(
        f"{owner}({'=, '.join(given)}=) is deprecated and will be removed in the next "
        f"release; pass connector=ConnectorOptions({', '.join(f'{n}=...' for n in given)})",
        DeprecationWarning, stacklevel=stacklevel + 1,
    )
    return ConnectorOptions(**deprecated)
