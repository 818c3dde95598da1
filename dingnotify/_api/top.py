"""The TOP family (the Taobao Open Platform router): every attempt signed afresh, system
parameters in the query, business parameters in a form body, answers wrapped in
``<method>_response`` or ``error_response``.

Its error map: the gateway's busy and limit codes (7, 8, 10, ``isp.*busy|unavailable|limit``)
are ``TopBusyError`` (retried), every other ``error_response`` a ``TopError``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import msgspec
from yarl import URL

from .._constants import FORM_CONTENT_TYPE
from .._errors import (
    DingNotifyError,
    ResponseDecodeError,
    TopBusyError,
    TopError,
)
from .._redact import Secret, scrub
from .._transport import Request, ResponseLike, frozen_headers
from ._call import Call, Secrets, status_failure
from .top_signing import sign

T = TypeVar("T")
GMT8 = timezone(timedelta(hours=8))
FORM_HEADERS = frozen_headers({"Content-Type": FORM_CONTENT_TYPE})
BUSY_CODES = frozenset({7, 8, 10})
_UNDECODABLE = object()


def top_timestamp(epoch: float) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8, whatever the local time zone."""
    return datetime.fromtimestamp(epoch, GMT8).strftime("%Y-%m-%d %H:%M:%S")


def top_error_for(
    code: int,
    msg: str = "",
    *,
    sub_code: str | None = None,
    sub_msg: str | None = None,
    request_id: str | None = None,
    method: str | None = None,
) -> TopError:
    """``TopBusyError`` for the gateway's busy/limit codes, else ``TopError``."""
    sub = sub_code or ""
    busy = code in BUSY_CODES or (
        sub.startswith("isp.") and ("busy" in sub or "unavailable" in sub or "limit" in sub)
    )
    cls = TopBusyError if busy else TopError
    return cls(code, msg, sub_code=sub_code, sub_msg=sub_msg, request_id=request_id,
               method=method)


def response_or_error(
    raw: bytes, method: str, *, simplify: bool, secrets: Secrets = ()
) -> dict[str, Any] | DingNotifyError:
    """The ``<method>_response`` body, or the error to raise (a ``TopError`` for an
    ``error_response``): returned, so that no frame of its traceback holds the raw body."""
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        data = _UNDECODABLE
    if data is _UNDECODABLE:
        snippet = scrub(raw[:80].decode("utf-8", "replace"), *secrets)
        return ResponseDecodeError(f"{method}: undecodable response: {snippet!r}")
    if not isinstance(data, dict):
        return ResponseDecodeError(f"{method}: expected a JSON object")
    error = data.get("error_response")
    if isinstance(error, dict):
        try:
            code = int(error.get("code", 0))
        except (TypeError, ValueError):
            code = 0
        return top_error_for(
            code, scrub(str(error.get("msg", "")), *secrets),
            sub_code=None if error.get("sub_code") is None else str(error["sub_code"]),
            sub_msg=None if error.get("sub_msg") is None else scrub(str(error["sub_msg"]),
                                                                     *secrets),
            request_id=error.get("request_id"), method=method,
        )
    key = method.replace(".", "_") + "_response"
    inner = data.get(key)
    if isinstance(inner, dict):
        return inner
    if simplify:
        return data
    return ResponseDecodeError(f"{method}: response has no {key}")


class TopFamily:
    """Signs each attempt with the app secret; ``call.path`` is the TOP method name and
    ``call.query`` its business parameters (signed, and sent as the form ``call.body``)."""

    def __init__(
        self,
        url: str,
        app_key: str,
        secret: Secret,
        *,
        sign_method: str,
        simplify: bool,
        partner_id: str | None,
        session: Secret | None,
        clock: Callable[[], float],
    ) -> None:
        self._url = URL(url)
        self._app_key = app_key
        self._secret = secret
        self.sign_method = sign_method
        self.simplify = simplify
        self._partner_id = partner_id
        self._session = session
        self._clock = clock

    def _system(self, method: str) -> dict[str, str]:
        params = {"method": method, "app_key": self._app_key,
                  "timestamp": top_timestamp(self._clock()), "v": "2.0", "format": "json",
                  "sign_method": self.sign_method}
        if self.simplify:
            params["simplify"] = "true"
        if self._partner_id:
            params["partner_id"] = self._partner_id
        if self._session is not None:
            params["session"] = self._session.reveal()
        return params

    def request(self, call: Call[Any], token: Secret | None, timeout: float) -> Request:
        """A freshly signed request (new timestamp): the signature lives only in here."""
        system = self._system(call.path)
        system["sign"] = sign({**system, **(call.query or {})}, self._secret.reveal(),
                              self.sign_method)
        return Request("POST", self._url.with_query(system), headers=FORM_HEADERS,
                       content=call.body, timeout=timeout)

    def outcome(
        self, response: ResponseLike, request: Request, call: Call[T], secrets: Secrets
    ) -> T | DingNotifyError:
        if response.status != 200:
            return status_failure(response, request)
        outcome = response_or_error(response.content, call.path, simplify=self.simplify,
                                    secrets=secrets)
        if isinstance(outcome, DingNotifyError):
            return outcome
        return call.decode(outcome)
