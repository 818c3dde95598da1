"""JSON codec and the response envelopes DingTalk uses (plain, 88-wrapped, TOP).

Encoders are built once; handlers hand back plain dicts and this module turns them into
``aiohttp`` responses, stashing the payload on the response for the recorder.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec
from aiohttp import web

JSON_TYPE = "application/json;charset=UTF-8"
# A typed key on aiohttp >= 3.14 (a plain str key there raises NotAppKeyWarning), a str before.
PAYLOAD_KEY: Any = (
    web.ResponseKey("dingemu_payload", dict)  # type: ignore[attr-defined,unused-ignore]
    if hasattr(web, "ResponseKey")
    else "dingemu_payload"
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()

MSG_TOKEN = "不合法的access_token"
MSG_MISSING = "缺少参数"
MSG_INVALID = "不合法的参数"


class WireError(Exception):
    """Raised inside handlers; carries the error payload pieces for the envelope."""

    def __init__(self, errcode: int, errmsg: str, *, wrap: bool = False) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg
        self.wrap = wrap
        """On /topapi paths, answer as 88 with this code as ``sub_code`` (token, permission)."""


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def decode(data: bytes | str) -> Any:
    """Decode JSON; raises ``msgspec.DecodeError`` (a ``ValueError``) on bad input."""
    return _decoder.decode(data)


def canonical(obj: Any) -> bytes:
    """Key-sorted compact JSON: the identity of a message's content."""
    return msgspec.json.encode(obj, order="sorted")


class RequestIds:
    """13-char lowercase alnum ids, reproducible from the seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"request-id:{seed}")

    def next(self) -> str:
        # 13 lowercase hex digits: alphanumeric like DingTalk's ids, one RNG call (hot path).
        return f"{self._rng.getrandbits(52):013x}"


def json_response(payload: dict[str, Any], status: int = 200) -> web.Response:
    resp = web.Response(body=encode(payload), status=status, headers={"Content-Type": JSON_TYPE})
    resp[PAYLOAD_KEY] = payload
    return resp


def plain_error(errcode: int, errmsg: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"errcode": errcode, "errmsg": errmsg}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def wrapped_error(sub_code: str, sub_msg: str, request_id: str) -> dict[str, Any]:
    """The /topapi form: errcode 88 with the real code as a *string* ``sub_code``."""
    return {
        "errcode": 88,
        "sub_code": sub_code,
        "sub_msg": sub_msg,
        "errmsg": f"ding talk error[subcode={sub_code},submsg={sub_msg}]",
        "request_id": request_id,
    }


def top_error(code: int, msg: str, request_id: str, sub_code: str | None = None,
              sub_msg: str | None = None) -> dict[str, Any]:
    inner: dict[str, Any] = {"code": code, "msg": msg}
    if sub_code is not None:
        inner["sub_code"] = sub_code
    if sub_msg is not None:
        inner["sub_msg"] = sub_msg
    inner["request_id"] = request_id
    return {"error_response": inner}
