"""DingTalk calls through the TOP gateway in session form (``/router/rest``).

Real clients (the PyPI ``dingtalk-sdk``, the official Java SDK) also reach ``asyncsend_v2``,
``getsendprogress`` and ``getsendresult`` as TOP methods
``dingtalk.oapi.message.corpconversation.<name>``, authenticated with
``session=<access_token>`` and no ``app_key`` or signature; business parameters travel as
strings in the query or a form body (``msg`` as a JSON string, lists comma-separated).

It is the same API as the ``/topapi`` path: same validation, same delivery, and it draws
from the same rate windows and monthly quota. Answers use TOP's envelope,
``{"<method with _>_response": {"errcode": 0, ..., "request_id": ...}}`` (the inner object
alone with ``simplify=true``); DingTalk-level errors (40035, 90018, the 88-wrapped permission
error) stay inside that envelope, while a missing session is TOP error 26 and an unknown or
expired token 27 ``Invalid session``. Choices where nothing is published: the timestamp is
not checked in this form (the PyPI SDK stamps local time, which is wrong off GMT+8), and
list fields stay plain arrays, as on the ``/topapi`` path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._core import Core, TopapiFn
from ._wire import WireError, top_error

SYSTEM_PARAMS = frozenset({"method", "app_key", "timestamp", "format", "v", "sign",
                           "sign_method", "session", "simplify", "partner_id",
                           "target_app_key"})


class SessionCalls:
    """The TOP methods served with a session, each mapped to its ``/topapi`` twin."""

    def __init__(self, core: Core, methods: Mapping[str, tuple[str, TopapiFn]]) -> None:
        self.core = core
        self.methods = dict(methods)

    def __contains__(self, method: object) -> bool:
        return method in self.methods

    def call(self, method: str, params: Mapping[str, str], request_id: str) -> dict[str, Any]:
        """The whole answer body (envelope included) for one session-form call."""
        core = self.core
        path, fn = self.methods[method]
        token = params.get("session")
        if not token:
            return top_error(26, "Missing session", request_id)
        app = core.tokens.app_for(token)
        if app is None:
            return top_error(27, "Invalid session:session-expired", request_id,
                             sub_code="session-expired")
        try:
            core.throttle(app.app_key, path)
            inner = fn(app, {k: v for k, v in params.items() if k not in SYSTEM_PARAMS})
        except WireError as error:
            inner = core.render(error, request_id)
        inner["request_id"] = request_id
        if params.get("simplify", "").lower() == "true":
            return inner
        return {f"{method.replace('.', '_')}_response": inner}
