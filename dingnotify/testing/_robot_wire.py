"""The robot API's wire rules as the emulator reads them: error envelope, templates, bodies.

Errors are non-2xx answers with ``{"code", "message", "requestid"}`` (``requestid`` an
upper-case UUID, also sent as the ``x-acs-request-id`` header). Choices made here:

* any token problem (no ``x-acs-dingtalk-access-token`` header, unknown, expired or revoked
  token; a token in the URL is ignored) -> 400 ``InvalidAuthentication``, the answer DingTalk
  is seen giving for a bad token;
* wrong app credentials on ``/v1.0/oauth2/accessToken`` -> 400 ``invalidClientIdOrSecret``;
* a missing field -> 400 ``Missing<field>`` ("<field> is mandatory for this action."), the
  gateway's form; any other bad input -> 400 ``InvalidParameter`` naming the field; a body
  that is not a JSON object -> 400 ``InvalidParameter``;
* a robot code of another app -> 403 ``Forbidden.AccessDenied.AccessTokenPermissionDenied``;
* the per-app, per-API call limit -> 403 ``Forbidden.AccessDenied.QpsLimitForAppkeyAndApi``.

``msgParam`` must be a JSON *string* holding an object whose keys are exactly the template's
keys, each a non-empty string. ``sampleActionCard6`` is not served: its keys are unpinned.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec
from aiohttp import web

from ._wire import PAYLOAD_KEY, decode, encode

JSON_TYPE = "application/json;charset=utf-8"
TOKEN_HEADER = "x-acs-dingtalk-access-token"
MAX_USERIDS = 20
MAX_RECALL_KEYS = 20
MAX_GROUP_PARAM_BYTES = 15_000

INVALID_AUTH = "InvalidAuthentication"
BAD_CREDENTIALS = "invalidClientIdOrSecret"
INVALID_PARAMETER = "InvalidParameter"
NO_PERMISSION = "Forbidden.AccessDenied.AccessTokenPermissionDenied"
QPS_LIMITED = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"

_ACTION = ("title", "text")
_BUTTONS = tuple(f"action{kind}{n}" for n in range(1, 6) for kind in ("Title", "URL"))
TEMPLATES: dict[str, frozenset[str]] = {
    "sampleText": frozenset({"content"}),
    "sampleMarkdown": frozenset({"title", "text"}),
    "sampleLink": frozenset({"text", "title", "picUrl", "messageUrl"}),
    "sampleImageMsg": frozenset({"photoURL"}),
    "sampleActionCard": frozenset({*_ACTION, "singleTitle", "singleURL"}),
    **{f"sampleActionCard{n}": frozenset({*_ACTION, *_BUTTONS[:2 * n]}) for n in range(2, 6)},
    "sampleFile": frozenset({"mediaId", "fileName", "fileType"}),
    "sampleAudio": frozenset({"mediaId", "duration"}),
    "sampleVideo": frozenset({"duration", "videoMediaId", "videoType", "picMediaId"}),
}
"""msgKey -> the exact keys of its ``msgParam``, read from DingTalk's template table."""


class RobotError(Exception):
    """Raised inside robot handlers; rendered as DingTalk's non-2xx error envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def missing(name: str) -> RobotError:
    return RobotError(400, f"Missing{name}", f"{name} is mandatory for this action.")


def invalid(name: str, why: str) -> RobotError:
    return RobotError(400, INVALID_PARAMETER, f"{name} is invalid: {why}")


class RequestIds:
    """Upper-case UUID-shaped ids like DingTalk's ``requestid``, reproducible from the seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"robot-request-id:{seed}")

    def next(self) -> str:
        h = f"{self._rng.getrandbits(128):032X}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def respond(payload: dict[str, Any], request_id: str, status: int = 200) -> web.Response:
    resp = web.Response(body=encode(payload), status=status,
                        headers={"Content-Type": JSON_TYPE, "x-acs-request-id": request_id})
    resp[PAYLOAD_KEY] = payload
    return resp


def error_response(error: RobotError, request_id: str) -> web.Response:
    payload = {"code": error.code, "message": error.message, "requestid": request_id}
    return respond(payload, request_id, error.status)


async def json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = decode(raw) if raw else None
    except msgspec.DecodeError:
        body = None
    if not isinstance(body, dict):
        raise RobotError(400, INVALID_PARAMETER, "the request body must be a JSON object")
    return body


def text(body: dict[str, Any], name: str) -> str:
    """A required non-empty string field."""
    value = body.get(name)
    if value is None or value == "":
        raise missing(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid(name, "must be a non-empty string")
    return value


def id_list(body: dict[str, Any], name: str, limit: int) -> list[str]:
    """A required array of 1..``limit`` non-empty strings."""
    value = body.get(name)
    if value is None:
        raise missing(name)
    if not isinstance(value, list) or not value:
        raise invalid(name, "must be a non-empty array of strings")
    if len(value) > limit:
        raise invalid(name, f"at most {limit} items, got {len(value)}")
    if not all(isinstance(item, str) and item for item in value):
        raise invalid(name, "every item must be a non-empty string")
    return value


def message(body: dict[str, Any], max_bytes: int | None = None) -> tuple[str, dict[str, Any]]:
    """``(msgKey, parsed msgParam)`` after checking the template's exact keys."""
    key = text(body, "msgKey")
    keys = TEMPLATES.get(key)
    if keys is None:
        raise invalid("msgKey", f"unknown template {key!r}")
    raw = body.get("msgParam")
    if raw is None or raw == "":
        raise missing("msgParam")
    if not isinstance(raw, str):
        raise invalid("msgParam", "must be a JSON string, not a JSON value")
    if max_bytes is not None and len(raw.encode("utf-8", "surrogatepass")) > max_bytes:
        raise invalid("msgParam", f"longer than {max_bytes} bytes")
    try:
        param = decode(raw)
    except msgspec.DecodeError:
        raise invalid("msgParam", "not valid JSON") from None
    if not isinstance(param, dict):
        raise invalid("msgParam", "must hold a JSON object")
    if set(param) != keys:
        raise invalid("msgParam", f"{key} needs exactly the keys {sorted(keys)}, "
                      f"got {sorted(param)}")
    for name, value in param.items():
        if not isinstance(value, str) or not value.strip():
            raise invalid(f"msgParam.{name}", "must be a non-empty string")
    return key, param
