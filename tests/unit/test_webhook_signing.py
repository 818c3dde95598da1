"""The signature follows the documented algorithm, fresh per request, correctly URL-encoded."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

from dingnotify.webhook import Text, sign
from tests.unit.webhook_mock import SECRET, TOKEN, mock_robot, script

FIXED_MS = 1_795_312_800_123


def expected_sign(secret: str, timestamp_ms: int) -> str:
    """Written out from DingTalk's description, independently of the SDK."""
    string_to_sign = f"{timestamp_ms}\n{secret}"
    mac = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"),
                   digestmod=hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def test_sign_matches_the_documented_algorithm() -> None:
    assert sign(SECRET, FIXED_MS) == expected_sign(SECRET, FIXED_MS)


async def test_each_request_carries_timestamp_and_encoded_sign() -> None:
    times = iter([FIXED_MS / 1000, (FIXED_MS + 1500) / 1000])
    wire = script()
    async with mock_robot(wire, SECRET, clock=lambda: next(times)) as r:
        await r.send(Text(content="a"))
        await r.send(Text(content="b"))
    first, second = (dict(seen.url.query) for seen in wire.requests)
    assert first == {"access_token": TOKEN, "timestamp": str(FIXED_MS),
                     "sign": expected_sign(SECRET, FIXED_MS)}
    assert second["timestamp"] == str(FIXED_MS + 1500)
    assert second["sign"] == expected_sign(SECRET, FIXED_MS + 1500)
    for seen in wire.requests:  # '+', '=' must be percent-encoded or the server reads spaces
        raw_sign = seen.url.raw_query_string.split("sign=", 1)[1]
        assert "+" not in raw_sign and "=" not in raw_sign
        assert urllib.parse.unquote(raw_sign) == seen.url.query["sign"]


async def test_without_secret_no_signature_is_sent() -> None:
    wire = script()
    async with mock_robot(wire, None) as r:
        await r.send(Text(content="a"))
    assert dict(wire.requests[0].url.query) == {"access_token": TOKEN}
