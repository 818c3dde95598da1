"""The webhook family (custom group robots): every attempt's URL signed afresh, JSON body,
``{"errcode","errmsg"}`` answers read by the map in ``webhook_errors`` (or the per-IP ban
page, which oapi.dingtalk.com answers for every path).

The access token is in the URL itself, so a redirect is refused rather than followed, and
every text that could echo the URL or an answer is passed through ``Credentials.redact``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from .._errors import DingNotifyError, ResponseDecodeError, status_error_for
from .._http import retry_after
from .._redact import Secret
from .._transport import Request, ResponseLike, frozen_headers
from ._ban import banned
from ._call import Call, Secrets
from .webhook_errors import webhook_error_for
from .webhook_signing import Credentials

T = TypeVar("T")
HEADERS = frozen_headers({"Content-Type": "application/json;charset=utf-8"})
# Each robot's budget in the governor: DingTalk lets a robot take 20 messages a minute.
CALLS_PER_WINDOW = 20
WINDOW_SECONDS = 60.0
BUDGET_PREFIX = "webhook:"


class _Answer(msgspec.Struct):
    """``errcode`` is required: a JSON answer without one (the per-IP ban page, a proxy's
    page) is not a delivery."""

    errcode: int
    errmsg: str = ""


_decode_answer = msgspec.json.Decoder(_Answer).decode


def budget_key(credentials: Credentials) -> str:
    """The governor's name for one robot: a digest of its URL, never the token."""
    return f"{BUDGET_PREFIX}{credentials.key}"


class WebhookFamily:
    """Signs each attempt's URL (fresh timestamp) with the robot's secret; ``call.body`` is
    the JSON message. ``clock`` gives epoch seconds, for the signature."""

    def __init__(self, credentials: Credentials, *, clock: Callable[[], float]) -> None:
        self._creds = credentials
        self._clock = clock

    def request(self, call: Call[Any], token: Secret | None, timeout: float) -> Request:
        """The request for one attempt: the signature lives only in its URL."""
        return Request("POST", self._creds.url(int(self._clock() * 1000)), headers=HEADERS,
                       content=call.body, timeout=timeout)

    def outcome(
        self, response: ResponseLike, request: Request, call: Call[T], secrets: Secrets
    ) -> T | DingNotifyError:
        where = f"POST {self._creds.endpoint}"
        status = response.status
        if 300 <= status < 400:
            return status_error_for(
                status, f"{where} answered HTTP {status}; redirects are never followed "
                        "because the URL carries the robot's credentials")
        if status != 200:
            return status_error_for(status, f"{where} answered HTTP {status}",
                                    retry_after=retry_after(response))
        answer = _answer(response.content)
        if answer is None:
            ban = banned(response.content, call.path)
            if ban is not None:
                return ban
            return ResponseDecodeError(f"{where} answered a body that is not the JSON expected")
        if answer.errcode != 0:
            return webhook_error_for(answer.errcode, self._creds.redact(answer.errmsg))
        return call.decode(answer)


def _answer(raw: bytes) -> _Answer | None:
    """The envelope, or None: the caller builds the error outside this except block."""
    try:
        return _decode_answer(raw)
    except msgspec.DecodeError:
        return None
