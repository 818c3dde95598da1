"""``ConnectorOptions``: validated at once, handed to the ``TCPConnector`` as given, never
combined with a pool of the caller's; the old keywords warn once, at the caller's line."""

from __future__ import annotations

import dataclasses
import inspect
import math
import ssl
from typing import Any

import aiohttp
import pytest

import dingnotify
from dingnotify import AiohttpTransport, ConnectorOptions, DingTalkClient, TopClient
from dingnotify.testing import MockTransport
from tests.conftest import APP_KEY, APP_SECRET, BASE, Scripted


def pool(client: DingTalkClient | TopClient) -> aiohttp.TCPConnector:
    """The connector of the session the client's transport creates (needs a running loop)."""
    transport = client._http.transport
    assert isinstance(transport, AiohttpTransport)
    connector = transport.session.connector
    assert isinstance(connector, aiohttp.TCPConnector)
    return connector


def settings(connector: aiohttp.TCPConnector) -> tuple[Any, ...]:
    return (connector.limit, connector._keepalive_timeout,  # type: ignore[attr-defined]
            connector._cached_hosts._ttl, connector.use_dns_cache,  # type: ignore[attr-defined]
            connector._ssl)  # type: ignore[attr-defined]


def next_line() -> int:
    """The number of the caller's next line (where the call under test starts)."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno + 1


def test_defaults_and_shape() -> None:
    options = ConnectorOptions()
    assert options == ConnectorOptions(100, 30.0, 300, True)
    assert "ConnectorOptions" in dingnotify.__all__
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_connections = 5  # type: ignore[misc]
    assert not hasattr(options, "__dict__")
    assert hash(options) == hash(ConnectorOptions())


@pytest.mark.parametrize("kwargs", [
    {"max_connections": 0}, {"max_connections": -3}, {"max_connections": True},
    {"max_connections": 1.0}, {"max_connections": "10"}, {"max_connections": None},
    {"keepalive_timeout": -0.5}, {"keepalive_timeout": math.nan},
    {"keepalive_timeout": math.inf}, {"keepalive_timeout": True},
    {"keepalive_timeout": "30"}, {"keepalive_timeout": None},
    {"dns_cache_ttl": -1}, {"dns_cache_ttl": 1.5}, {"dns_cache_ttl": False},
    {"dns_cache_ttl": None},
    {"ssl": None}, {"ssl": 1}, {"ssl": "verify"}, {"ssl": aiohttp.Fingerprint(b"0" * 32)},
])
def test_bad_values_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(dingnotify.ValidationError) as caught:
        ConnectorOptions(**kwargs)
    assert next(iter(kwargs)) in str(caught.value)


def test_edge_values_are_accepted() -> None:
    context = ssl.create_default_context()
    options = ConnectorOptions(max_connections=1, keepalive_timeout=0, dns_cache_ttl=0,
                               ssl=context)
    assert options.ssl is context
    assert ConnectorOptions(ssl=False).ssl is False


def test_a_client_refuses_what_is_not_connector_options() -> None:
    with pytest.raises(dingnotify.ValidationError, match="ConnectorOptions"):
        DingTalkClient(APP_KEY, APP_SECRET,
                       connector={"max_connections": 5})  # type: ignore[arg-type]
    with pytest.raises(dingnotify.ValidationError, match="ConnectorOptions"):
        TopClient(APP_KEY, APP_SECRET, connector=5)  # type: ignore[arg-type]


async def test_the_connector_gets_the_values() -> None:
    context = ssl.create_default_context()
    options = ConnectorOptions(max_connections=7, keepalive_timeout=12.5, dns_cache_ttl=42,
                               ssl=context)
    async with DingTalkClient(APP_KEY, APP_SECRET, base_url=BASE, connector=options) as c:
        assert settings(pool(c)) == (7, 12.5, 42, True, context)
        session = c._http.transport.session  # type: ignore[attr-defined]
    assert session.closed
    async with DingTalkClient(APP_KEY, APP_SECRET) as c:
        assert settings(pool(c)) == (100, 30.0, 300, True, True)


async def test_top_client_and_transport_take_connector_options() -> None:
    options = ConnectorOptions(max_connections=3, keepalive_timeout=5.0, dns_cache_ttl=0,
                               ssl=False)
    async with TopClient(APP_KEY, APP_SECRET, connector=options) as top:
        assert settings(pool(top)) == (3, 5.0, 0, True, False)
    transport = AiohttpTransport(connector=options)
    assert settings(transport.session.connector) == (  # type: ignore[arg-type]
        3, 5.0, 0, True, False)
    assert repr(transport) == "AiohttpTransport(max_connections=3)"
    await transport.aclose()


async def test_connector_with_transport_or_session_is_refused() -> None:
    options = ConnectorOptions(max_connections=5)
    async with aiohttp.ClientSession() as session:
        for client in (DingTalkClient, TopClient):
            with pytest.raises(dingnotify.ValidationError, match="connector="):
                client(APP_KEY, APP_SECRET, connector=options,
                       transport=MockTransport(Scripted()))
            with pytest.raises(dingnotify.ValidationError, match="connector="):
                client(APP_KEY, APP_SECRET, connector=options, session=session)
        with pytest.raises(dingnotify.ValidationError, match="connector="):
            AiohttpTransport(session, connector=options)
        assert not session.closed


def test_old_keyword_and_connector_together_are_refused() -> None:
    # Refused before any warning (the suite turns warnings into errors).
    with pytest.raises(dingnotify.ValidationError, match="connector= or max_connections="):
        DingTalkClient(APP_KEY, APP_SECRET, connector=ConnectorOptions(), max_connections=5)
    with pytest.raises(dingnotify.ValidationError, match="connector= or ssl="):
        TopClient(APP_KEY, APP_SECRET, connector=ConnectorOptions(), ssl=False)
    with pytest.raises(dingnotify.ValidationError, match="connector= or dns_cache_ttl="):
        AiohttpTransport(connector=ConnectorOptions(), dns_cache_ttl=5)


def test_unknown_keywords_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="'max_conections'"):
        DingTalkClient(APP_KEY, APP_SECRET, max_conections=5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'keepalive_timeout'"):
        TopClient(APP_KEY, APP_SECRET, keepalive_timeout=5.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'limit'"):
        AiohttpTransport(limit=5)  # type: ignore[call-arg]


async def test_old_client_keywords_warn_once_at_the_callers_line() -> None:
    context = ssl.create_default_context()
    with pytest.warns(DeprecationWarning) as record:
        line = next_line()
        client = DingTalkClient(APP_KEY, APP_SECRET, ssl=context, dns_cache_ttl=9,
                                max_connections=7, keepalive_timeout=1.5)
    assert len(record) == 1
    warning = record[0]
    assert (warning.filename, warning.lineno) == (__file__, line)
    message = str(warning.message)
    assert message.startswith("DingTalkClient(max_connections=, keepalive_timeout=, "
                              "dns_cache_ttl=, ssl=) is deprecated")
    assert ("connector=ConnectorOptions(max_connections=..., keepalive_timeout=..., "
            "dns_cache_ttl=..., ssl=...)") in message
    async with client:
        assert settings(pool(client)) == (7, 1.5, 9, True, context)


async def test_old_top_keywords_warn_once_at_the_callers_line() -> None:
    with pytest.warns(DeprecationWarning, match=r"TopClient\(max_connections=\) .*"
                      r"connector=ConnectorOptions\(max_connections=\.\.\.\)") as record:
        line = next_line()
        top = TopClient(APP_KEY, APP_SECRET, max_connections=4)
    assert len(record) == 1
    assert (record[0].filename, record[0].lineno) == (__file__, line)
    async with top:
        assert settings(pool(top)) == (4, 30.0, 300, True, True)


async def test_old_transport_keywords_warn_once_at_the_callers_line() -> None:
    with pytest.warns(DeprecationWarning, match=r"AiohttpTransport\(ssl=\)") as record:
        line = next_line()
        transport = AiohttpTransport(ssl=False)
    assert len(record) == 1
    assert (record[0].filename, record[0].lineno) == (__file__, line)
    assert settings(transport.session.connector) == (  # type: ignore[arg-type]
        100, 30.0, 300, True, False)
    await transport.aclose()


def test_bad_old_keyword_values_are_refused_before_any_request() -> None:
    wire = Scripted()
    for kwargs in ({"max_connections": 0}, {"keepalive_timeout": -1.0},
                   {"dns_cache_ttl": 2.5}, {"ssl": None}):
        with pytest.warns(DeprecationWarning), pytest.raises(dingnotify.ValidationError):
            DingTalkClient(APP_KEY, APP_SECRET, **kwargs)
    with pytest.warns(DeprecationWarning), pytest.raises(dingnotify.ValidationError):
        TopClient(APP_KEY, APP_SECRET, max_connections=True)
    with pytest.warns(DeprecationWarning), pytest.raises(dingnotify.ValidationError):
        AiohttpTransport(max_connections=0)
    # Beside transport=, old keywords are still ignored (as before), but checked.
    with pytest.warns(DeprecationWarning), pytest.raises(dingnotify.ValidationError):
        DingTalkClient(APP_KEY, APP_SECRET, transport=MockTransport(wire), max_connections=0)
    assert wire.sent() == []


async def test_old_keywords_beside_a_pool_of_the_callers_still_work() -> None:
    wire = MockTransport(Scripted())
    with pytest.warns(DeprecationWarning):
        client = DingTalkClient(APP_KEY, APP_SECRET, transport=wire, max_connections=5)
    assert client._http.transport is wire
    async with aiohttp.ClientSession() as session:
        with pytest.warns(DeprecationWarning):
            top = TopClient(APP_KEY, APP_SECRET, session=session, ssl=False)
        async with top:
            transport = top._http.transport
            assert isinstance(transport, AiohttpTransport) and transport.session is session
        assert not session.closed
