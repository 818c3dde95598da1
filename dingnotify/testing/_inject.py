"""Turning a picked ``Fault`` into what the client sees on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._faults import Fault, errcode_of
from ._wire import JSON_TYPE, RequestIds, json_response, plain_error, top_error

TOP_PATH = "/router/rest"
_TOP_CODES = {-1: (10, "Service Currently Unavailable"), 90018: (7, "App Call Limited"),
              90006: (7, "App Call Limited")}
_HTML = ("<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
         "<hr><center>Tengine</center></body></html>")
_GARBAGE = b'{"errcode":0,"errmsg":"ok","task_id":93266880'


class Dropped(Exception):
    """The connection was closed on purpose; there is no response to record."""


def errcode_response(code: int, path: str, request_ids: RequestIds) -> web.Response:
    request_id = request_ids.next()
    if path == TOP_PATH:
        top_code, msg = _TOP_CODES.get(code, (15, "Remote service error"))
        return json_response(top_error(top_code, msg, request_id, sub_code=f"isp.{code}"))
    message = "系统繁忙" if code == -1 else f"emulated fault errcode {code}"
    rid = request_id if path.startswith("/topapi/") else None
    return json_response(plain_error(code, message, rid))


def html(status: int, title: str) -> web.Response:
    return web.Response(status=status, text=_HTML.format(title=title), content_type="text/html")


async def apply(fault: Fault, request: web.Request,
                handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                request_ids: RequestIds, revoke: Callable[[], Any]) -> web.StreamResponse:
    """Serve ``request`` as ``fault`` says. Raises ``Dropped`` for ``drop``."""
    kind = fault.kind
    if kind == "delay":
        if fault.after_accept:
            response = await handler(request)
            await asyncio.sleep(fault.delay)
            return response
        await asyncio.sleep(fault.delay)
        if request.transport is None or request.transport.is_closing():
            # The client gave up while we stalled: like a real server that never got to the
            # request, do nothing (``after_accept=True`` models the ambiguous case).
            raise Dropped
        return await handler(request)
    if kind == "revoke_token":
        revoke()
        return await handler(request)
    if kind == "drop":
        if request.transport is not None:
            request.transport.abort()
        raise Dropped
    if kind == "http_400":
        return web.json_response({"code": "InvalidParameter", "message": "emulated fault 400",
                                  "requestid": request_ids.next()}, status=400)
    if kind == "http_500":
        return web.Response(status=500, text="500 Internal Server Error")
    if kind == "http_502":
        return html(502, "502 Bad Gateway")
    if kind == "http_503":
        return html(503, "503 Service Temporarily Unavailable")
    if kind == "html_error":
        return html(200, "访问被拒绝 Access denied")
    if kind == "garbage":
        return web.Response(body=_GARBAGE, headers={"Content-Type": JSON_TYPE})
    code = errcode_of(kind)
    if code is not None:
        return errcode_response(code, request.path, request_ids)
    return await handler(request)  # "ok"
