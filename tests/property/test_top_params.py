"""Any TOP parameters either become a signed request whose sign covers exactly what is sent,
or a ValidationError raised before sending. No other exception type escapes."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dingnotify import TopClient, ValidationError
from dingnotify.testing import MockRequest, MockResponse, MockTransport
from dingnotify.top._signing import sign

values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=30), st.binary(max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)
names = st.one_of(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.sampled_from(
    ["sign", "method", "app_key", "timestamp", ""]), st.integers())
methods = st.one_of(st.just("alibaba.lyservice.lippi.message.send"),
                    st.from_regex(r"[a-z]{1,6}(\.[a-z_]{1,6}){1,3}", fullmatch=True),
                    st.text(max_size=12))


def run(method: str, params: dict[Any, Any]) -> list[tuple[str, bytes]]:
    sent: list[tuple[str, bytes]] = []

    def capture(request: MockRequest) -> MockResponse:
        sent.append((str(request.url), request.content or b""))
        return MockResponse(content=b'{"x_response":{}}')

    async def go() -> None:
        async with TopClient("k", "s3cret", url="http://127.0.0.1:9/router/rest",
                             sign_method="hmac", transport=MockTransport(capture)) as top:
            try:
                await top.execute(method, params)
            except Exception as exc:
                if not sent:
                    raise
                assert type(exc).__name__ == "ResponseDecodeError"

    try:
        asyncio.run(go())
    except ValidationError:
        assert sent == []
    return sent


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(methods, st.dictionaries(names, values, max_size=5))
def test_top_params_signed_exactly_or_rejected(method: str, params: dict[Any, Any]) -> None:
    sent = run(method, params)
    if not sent:
        return
    url, body = sent[0]
    query = dict(parse_qsl(url.split("?", 1)[1], keep_blank_values=True))
    form = dict(parse_qsl(body.decode(), keep_blank_values=True))
    assert not set(query) & set(form)
    assert query["sign"] == sign({**query, **form}, "s3cret", "hmac")
