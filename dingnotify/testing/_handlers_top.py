"""The TOP router (``/router/rest``) serving ``alibaba.lyservice.lippi.message.send``.

DingTalk's own methods in session form (``dingtalk.oapi.message.corpconversation.*`` with
``session=<access_token>``) are handed to ``SessionCalls`` before any of the checks below.

Checks run in this order, each answering an ``error_response`` with HTTP 200: 21 missing
method, 28/29 missing/invalid app_key, 22 invalid method, 30/31 missing/invalid timestamp
(``yyyy-MM-dd HH:mm:ss`` GMT+8 or epoch ms, ±10 min of the emulator clock), 32/34 missing/
unsupported version (only ``2.0``), 24 missing signature, 25 invalid signature (also for an
unknown ``sign_method``), 7 App Call Limited (rate limit), 40/41 missing/invalid arguments.
A business failure (``content == "FAIL"`` or ``Emulator(top_business_failure=True)``) is a
normal response with ``success: false, code: "400001", msg: "SYSTEM_ERROR"``.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

import msgspec
from aiohttp import web

from ._core import Core, TopMessage
from ._org import App
from ._sign import SIGN_METHODS, verify
from ._top_session import SessionCalls
from ._wire import PAYLOAD_KEY, decode, json_response, top_error

LIPPI = "alibaba.lyservice.lippi.message.send"
METHODS = frozenset({LIPPI})
TIMESTAMP_TOLERANCE = 600.0
GMT8 = timezone(timedelta(hours=8))
MESSAGE_REQUIRED = ("message_id", "content", "sid", "session_source", "content_type", "bu_id")
FAIL_CONTENT = "FAIL"


class TopError(Exception):
    def __init__(self, code: int, msg: str, sub_code: str | None = None,
                 sub_msg: str | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg


def _missing_arg(name: str) -> TopError:
    text = f"Missing required arguments:{name}"
    return TopError(40, "Missing required arguments", "isv.missing-parameter", text)


def _invalid_arg(name: str, why: str) -> TopError:
    return TopError(41, "Invalid arguments", "isv.invalid-parameter", f"{name}: {why}")


def parse_timestamp(value: str) -> float | None:
    """Epoch seconds from TOP's GMT+8 ``yyyy-MM-dd HH:mm:ss`` or an epoch-ms string."""
    if value.isdigit():
        return int(value) / 1000
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8).timestamp()
    except ValueError:
        return None


class TopHandlers:
    def __init__(self, core: Core, session: SessionCalls) -> None:
        self.core = core
        self.session = session
        self._data_ids = itertools.count(11_496_248)

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/router/rest", self.router)]

    async def router(self, request: web.Request) -> web.StreamResponse:
        params: dict[str, str] = dict(request.query)
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded", "multipart/form-data"
        ):
            for key, value in (await request.post()).items():
                if isinstance(value, str):
                    params[key] = value
        request_id = self.core.request_ids.next()
        method = params.get("method")
        if method is not None and method in self.session:
            body = self.session.call(method, params, request_id)
        else:
            body = self._gateway(params, request_id)
        if params.get("format", "xml").lower() == "json":
            return json_response(body)
        return _xml_response(body)

    def _gateway(self, params: dict[str, str], request_id: str) -> dict[str, Any]:
        try:
            app = self._check_system(params)
            name, result = self._lippi(app, params)
        except TopError as error:
            return top_error(error.code, error.msg, request_id, error.sub_code, error.sub_msg)
        body: dict[str, Any] = {"result": result, "request_id": request_id}
        if params.get("simplify", "").lower() == "true":
            return body
        return {f"{name.replace('.', '_')}_response": body}

    def _check_system(self, params: dict[str, str]) -> App:
        method = params.get("method")
        if not method:
            raise TopError(21, "Missing method")
        app_key = params.get("app_key")
        if not app_key:
            raise TopError(28, "Missing app key")
        app = next((a for a in self.core.org.top_apps if a.app_key == app_key), None)
        if app is None:
            raise TopError(29, "Invalid app key")
        if method not in METHODS:
            raise TopError(22, "Invalid method")
        self._check_timestamp(params.get("timestamp"))
        version = params.get("v")
        if not version:
            raise TopError(32, "Missing version")
        if version not in ("2.0", "2"):
            raise TopError(34, "Unsupported version")
        if not params.get("sign"):
            raise TopError(24, "Missing signature")
        if params.get("sign_method", "md5") not in SIGN_METHODS:
            raise TopError(25, "Invalid signature", sub_msg="unsupported sign_method")
        if not verify(params, app.app_secret):
            raise TopError(25, "Invalid signature")
        if self.core.limiter.check(("top", app.app_key, method)) is not None:
            self.core.throttled[7] += 1
            raise TopError(7, "App Call Limited", "accesscontrol.limited-by-app-access-count",
                           "This ban will last for 1 more seconds")
        return app

    def _check_timestamp(self, value: str | None) -> None:
        if not value:
            raise TopError(30, "Missing timestamp")
        when = parse_timestamp(value)
        if when is None or abs(when - self.core.clock()) > TIMESTAMP_TOLERANCE:
            raise TopError(31, "Invalid timestamp")

    def _lippi(self, app: App, params: dict[str, str]) -> tuple[str, dict[str, Any]]:
        para = self._json_param(params, "ly_ding_open_para_dto")
        message = self._json_param(params, "ly_open_message_dto")
        for key in MESSAGE_REQUIRED:
            if message.get(key) is None or message.get(key) == "":
                raise _invalid_arg(f"ly_open_message_dto.{key}", "required")
        content_type = message["content_type"]
        if isinstance(content_type, str) and content_type.isdigit():
            content_type = int(content_type)
        if isinstance(content_type, bool) or content_type not in range(1, 11):
            raise _invalid_arg("ly_open_message_dto.content_type", "must be 1..10")
        failed = self.core.top_business_failure or message["content"] == FAIL_CONTENT
        data = str(next(self._data_ids))
        if not self.core.lean:
            self.core.top_messages.append(TopMessage(app.app_key, LIPPI, para, message,
                                                     not failed, data, self.core.clock()))
        if failed:
            return LIPPI, {"success": False, "code": "400001", "msg": "SYSTEM_ERROR"}
        return LIPPI, {"success": True, "code": "0", "msg": "ok", "data": data}

    @staticmethod
    def _json_param(params: dict[str, str], name: str) -> dict[str, Any]:
        raw = params.get(name)
        if not raw:
            raise _missing_arg(name)
        try:
            value = decode(raw)
        except msgspec.DecodeError:
            raise _invalid_arg(name, "not valid JSON") from None
        if not isinstance(value, dict):
            raise _invalid_arg(name, "must be a JSON object")
        return value


def _xml(tag: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml(k, v) for k, v in value.items())
    elif isinstance(value, list):
        inner = "".join(_xml("item", v) for v in value)
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{tag}>{inner}</{tag}>"


def _xml_response(body: dict[str, Any]) -> web.Response:
    """TOP's default format (list items as ``<item>``, this emulator's choice)."""
    if len(body) != 1:  # simplify=true without a wrapper: XML still needs one root element
        body = {"response": body}
    text = '<?xml version="1.0" encoding="utf-8" ?>' + "".join(
        _xml(k, v) for k, v in body.items())
    resp = web.Response(text=text, content_type="text/xml", charset="utf-8")
    resp[PAYLOAD_KEY] = body
    return resp
