"""The transport seam: one request in, one response out, no retries, no redirects.

``AiohttpTransport`` is the default (one pooled ``aiohttp.ClientSession``); tests hand the
client any object with the same two methods, such as ``dingnotify.testing.MockTransport``.
Credentials travel inside ``Request.url``, so a ``Request`` never shows its query in a repr,
and failures are raised outside the ``except`` block that caught aiohttp's error: the
chained exception (whose text holds the full URL) is dropped, not merely hidden.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any, Protocol, Unpack, runtime_checkable

import aiohttp
import msgspec
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ._constants import JSON_CONTENT_TYPE, MAX_RESPONSE_BYTES
from ._errors import (
    ConnectionFailedError,
    RequestTimeoutError,
    ResponseDecodeError,
    TransportError,
    ValidationError,
)
from ._options import (
    CONNECTOR_FIELDS,
    ConnectorKeywords,
    ConnectorOptions,
    connector_options,
)
from ._redact import redact

logger = logging.getLogger("dingnotify")


def frozen_headers(headers: Mapping[str, str] | None = None) -> CIMultiDictProxy[str]:
    """Read-only, case-insensitive headers: build constant ones once and share them."""
    return CIMultiDictProxy(CIMultiDict(headers or {}))


_NO_HEADERS = frozen_headers()
JSON_HEADERS = frozen_headers({"Content-Type": JSON_CONTENT_TYPE})


class Request:
    """One HTTP request as the client built it; its repr and ``str`` redact credentials.

    ``headers`` is read-only: requests share their constant headers instead of copying
    them on every call.
    """

    __slots__ = ("content", "headers", "method", "timeout", "url")

    def __init__(
        self,
        method: str,
        url: URL,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        timeout: float,
    ) -> None:
        self.method = method
        self.url = url
        self.headers: CIMultiDictProxy[str] = (
            _NO_HEADERS if headers is None
            else headers if isinstance(headers, CIMultiDictProxy)
            else frozen_headers(headers)
        )
        self.content = content
        self.timeout = timeout

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when there is none or it is not JSON."""
        if not self.content:
            return None
        try:
            return msgspec.json.decode(self.content)
        except msgspec.DecodeError:
            return None

    @property
    def safe_url(self) -> str:
        """The URL with every credential masked: the only form that may be logged."""
        return redact(str(self.url))

    @property
    def where(self) -> str:
        """Method and redacted URL, for error messages (built only when one is raised)."""
        return f"{self.method} {self.safe_url}"

    def __repr__(self) -> str:
        return f"<Request {self.where}>"

    __str__ = __repr__


class Response:
    """Status, headers and the whole body of an answer."""

    __slots__ = ("content", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.content)} bytes>"


@runtime_checkable
class ResponseLike(Protocol):
    """What a transport returns: ``dingnotify.testing.MockResponse`` fits too."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...


@runtime_checkable
class AsyncTransport(Protocol):
    """Sends one request within ``request.timeout`` seconds, following no redirect.

    May raise ``TimeoutError``, ``OSError`` or a ``TransportError``; any status is returned
    as a response (the client decides what it means).
    """

    async def handle(self, request: Request) -> ResponseLike: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """The default transport: one pooled session, created on first use, never redirected.

    An injected ``session`` is used and left open (its own connector applies); otherwise
    the session's ``aiohttp.TCPConnector`` is built from ``connector=``
    (``ConnectorOptions``; giving both is a ``ValidationError``). Redirects are never
    followed, whatever the session's defaults: a 3xx comes back as a response, which the
    client refuses.

    The keywords ``max_connections=``, ``keepalive_timeout=``, ``dns_cache_ttl=`` and
    ``ssl=`` still work for one release, with a ``DeprecationWarning``, as on
    ``DingTalkClient``: one way to shape the pool, and one release to move to it.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        connector: ConnectorOptions | None = None,
        **deprecated: Unpack[ConnectorKeywords],
    ) -> None:
        if session is not None and connector is not None:
            raise ValidationError("connector= shapes the pool this transport creates: "
                                  "give it or session=, not both")
        options = connector_options("AiohttpTransport", connector, deprecated, stacklevel=2)
        self._session = session
        self._owns_session = session is None
        self._options = options if options is not None else ConnectorOptions()
        self._timeout = aiohttp.ClientTimeout()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled session (it needs a running loop, hence created on first use)."""
        if self._session is None:
            options = self._options
            connector = aiohttp.TCPConnector(
                limit=options.max_connections,
                keepalive_timeout=options.keepalive_timeout,
                ttl_dns_cache=options.dns_cache_ttl,
                use_dns_cache=True,
                ssl=options.ssl,
            )
            self._session = aiohttp.ClientSession(connector=connector, raise_for_status=False)
        return self._session

    async def aclose(self) -> None:
        """Close the session if this transport created it; idempotent."""
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    async def handle(self, request: Request) -> Response:
        failure: TransportError
        try:
            async with self.session.request(
                request.method, request.url, data=request.content, headers=request.headers,
                timeout=self._client_timeout(request.timeout), allow_redirects=False,
            ) as resp:
                content = await _read_capped(resp)
                if content is not None:
                    return Response(resp.status, resp.headers, content)
                failure = ResponseDecodeError(
                    f"{request.where}: body exceeds {MAX_RESPONSE_BYTES} bytes")
        except aiohttp.ClientConnectorError as exc:
            failure = ConnectionFailedError(f"{request.where} failed: {type(exc).__name__}",
                                            maybe_sent=False)
        except TimeoutError:
            failure = RequestTimeoutError(f"{request.where} timed out after {request.timeout}s")
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            failure = ConnectionFailedError(f"{request.where} failed: {type(exc).__name__}")
        except aiohttp.ClientError as exc:
            failure = TransportError(f"{request.where} failed: {type(exc).__name__}")
        raise failure  # outside the except blocks: aiohttp's error is not chained

    def _client_timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        """The last one again when it fits: timeouts change only under a retry deadline."""
        if self._timeout.total != seconds:
            self._timeout = aiohttp.ClientTimeout(total=seconds)
        return self._timeout

    def __repr__(self) -> str:
        return f"AiohttpTransport(max_connections={self._options.max_connections})"


def client_transport(
    owner: str,
    transport: AsyncTransport | None,
    session: aiohttp.ClientSession | None,
    connector: ConnectorOptions | None,
    deprecated: Mapping[str, Any],
    *,
    accepted: Collection[str] = CONNECTOR_FIELDS,
) -> AsyncTransport:
    """The transport a client's ``transport=``, ``session=``, ``connector=`` and deprecated
    connector keywords spell, all checked; the warning names the line that called
    ``owner``'s constructor. Old keywords beside ``transport=``/``session=`` are ignored,
    as they always were."""
    if transport is not None and session is not None:
        raise ValidationError("give transport= or session=, not both")
    if connector is not None and (transport is not None or session is not None):
        raise ValidationError("connector= shapes the pool the client creates: "
                              "not with transport= or session=")
    options = connector_options(owner, connector, deprecated, accepted=accepted, stacklevel=3)
    if transport is not None:
        return transport
    return AiohttpTransport(session) if session is not None else AiohttpTransport(
        connector=options)


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes | None:
    """The body, or None when it is larger than any DingTalk answer could be."""
    length = resp.content_length
    if length is not None:
        return None if length > MAX_RESPONSE_BYTES else await resp.read()
    body = await resp.content.read(MAX_RESPONSE_BYTES + 1)
    while len(body) <= MAX_RESPONSE_BYTES and not resp.content.at_eof():
        chunk = await resp.content.read(MAX_RESPONSE_BYTES + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return None if len(body) > MAX_RESPONSE_BYTES else body


async def multipart(
    name: str, filename: str, content: bytes, content_type: str
) -> tuple[bytes, str]:
    """A one-file ``multipart/form-data`` body and its Content-Type, encoded by aiohttp."""
    writer = aiohttp.MultipartWriter("form-data")
    part = writer.append(content, {"Content-Type": content_type})
    part.set_content_disposition("form-data", name=name, filename=filename)
    sink = _Sink()
    await writer.write(sink)  # type: ignore[arg-type]
    return bytes(sink.data), writer.content_type


class _Sink:
    """Collects what aiohttp's multipart writer writes, in memory."""

    def __init__(self) -> None:
        self.data = bytearray()

    async def write(self, chunk: bytes) -> None:
        self.data += chunk
