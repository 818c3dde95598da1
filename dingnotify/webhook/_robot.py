"""``WebhookRobot``: send messages to a DingTalk group through a custom robot's webhook.

Every request is signed afresh, paced by the process-wide window for its robot, and
retried only when that can help (network errors, 5xx, 130101). Errors are raised from
frames that hold neither the access token nor the secret, with no chained exception.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from types import TracebackType

import aiohttp
import msgspec

from dingnotify._errors import (
    ConnectionFailedError,
    DingNotifyError,
    RequestTimeoutError,
    ResponseDecodeError,
    TransportError,
    ValidationError,
    status_error_for,
)

from ._errors import WebhookMessageTooLargeError, WebhookRateLimitedError, webhook_error_for
from ._messages import MENTIONABLE, At, Markdown, Text, WebhookMessage, encode_body, with_mentions
from ._pacing import SlidingWindowLimiter, shared_limiter
from ._signing import Credentials
from ._split import json_cost, split_text

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 20_000
HEADERS = {"Content-Type": "application/json;charset=utf-8"}
_MARKER_RESERVE = json_cost("(999/999)\n\n")


class _Answer(msgspec.Struct):
    errcode: int = 0
    errmsg: str = ""


_decode_answer = msgspec.json.Decoder(_Answer).decode


class WebhookRobot:
    """One custom group robot: ``async with WebhookRobot(url, secret=...) as robot``.

    Owns one ``aiohttp.ClientSession`` unless ``session=`` is given (then left open).
    ``limiter`` defaults to the window shared by every robot on the same URL in this
    process; pass one with a fake clock in tests. ``clock`` gives epoch seconds for
    signatures.
    """

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        max_rate_limited_retries: int = 2,
        retry_delay: float = 0.5,
        limiter: SlidingWindowLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parsed = Credentials.parse(url, secret)
        del url, secret  # from here on, no frame of ours holds the raw credentials
        if isinstance(parsed, str):
            raise ValidationError(parsed)
        self._creds = parsed
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_retries = max_retries
        self.max_rate_limited_retries = max_rate_limited_retries
        self.retry_delay = retry_delay
        self.limiter = limiter if limiter is not None else shared_limiter(parsed.key)
        self._clock = clock

    # -- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> WebhookRobot:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this robot opened it."""
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self._session

    # -- sending --------------------------------------------------------------------

    async def send(
        self,
        message: WebhookMessage,
        *,
        at_mobiles: Iterable[str] = (),
        at_userids: Iterable[str] = (),
        at_all: bool = False,
        split: bool = False,
    ) -> int:
        """Send ``message`` (as numbered parts, in order, if ``split``); returns parts sent.

        Everything is validated before the first request, so a bad message sends nothing.
        """
        bodies = self.prepare(message, at_mobiles=at_mobiles, at_userids=at_userids,
                              at_all=at_all, split=split)
        for body in bodies:
            await self._deliver(body)
        return len(bodies)

    def prepare(
        self,
        message: WebhookMessage,
        *,
        at_mobiles: Iterable[str] = (),
        at_userids: Iterable[str] = (),
        at_all: bool = False,
        split: bool = False,
    ) -> list[bytes]:
        """The exact request bodies ``send`` would post; raises ``ValidationError``."""
        at = At(at_mobiles=tuple(at_mobiles), at_user_ids=tuple(at_userids), is_at_all=at_all)
        if at != At() and not isinstance(message, MENTIONABLE):
            raise ValidationError(f"{type(message).__name__} messages cannot mention anyone")
        body = encode_body(with_mentions(message, at), at)
        if len(body) <= MAX_BODY_BYTES:
            return [body]
        if not split or not isinstance(message, MENTIONABLE):
            hint = " (pass split=True)" if isinstance(message, MENTIONABLE) else ""
            raise WebhookMessageTooLargeError(
                f"the body is {len(body)} bytes, over DingTalk's {MAX_BODY_BYTES}{hint}")
        return _split_bodies(message, at)

    async def _deliver(self, body: bytes) -> None:
        failures = rate_limited = 0
        while True:
            await self.limiter.acquire()
            error = await self._post(body)
            if error is None:
                return
            if isinstance(error, WebhookRateLimitedError) and \
                    rate_limited < self.max_rate_limited_retries:
                rate_limited += 1
                log.warning("webhook robot %s throttled (130101); waiting for the window",
                            self._creds.key)
                self.limiter.block_for(self.limiter.period)
                continue
            if isinstance(error, TransportError) and error.retryable and \
                    failures < self.max_retries:
                failures += 1
                await asyncio.sleep(self.retry_delay * 2 ** (failures - 1))
                continue
            _raise_clean(error)

    async def _post(self, body: bytes) -> DingNotifyError | None:
        """One request; the error is returned, not raised, so it carries no aiohttp frames."""
        where = f"POST {self._creds.endpoint}"
        try:
            async with self._get_session().post(
                self._creds.url(int(self._clock() * 1000)), data=body, headers=HEADERS,
                allow_redirects=False, timeout=self._timeout,
            ) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError:
            return RequestTimeoutError(f"{where} timed out")
        except aiohttp.ClientError as exc:
            detail = self._creds.redact(f"{type(exc).__name__}: {exc}")
            return ConnectionFailedError(f"{where} failed: {detail}")
        return self._interpret(where, status, raw)

    def _interpret(self, where: str, status: int, raw: bytes) -> DingNotifyError | None:
        if 300 <= status < 400:
            return status_error_for(
                status, f"{where} answered HTTP {status}; redirects are never followed "
                        "because the URL carries the robot's credentials")
        if status != 200:
            return status_error_for(status, f"{where} answered HTTP {status}")
        try:
            answer = _decode_answer(raw)
        except msgspec.DecodeError:
            return ResponseDecodeError(f"{where} answered a body that is not the JSON expected")
        if answer.errcode == 0:
            return None
        return webhook_error_for(answer.errcode, self._creds.redact(answer.errmsg))

    def __repr__(self) -> str:
        creds = getattr(self, "_creds", None)  # also called on a half-built robot
        if creds is None:
            return "<WebhookRobot (not configured)>"
        return f"<WebhookRobot {creds.endpoint} signed={creds.signed}>"


def _raise_clean(error: DingNotifyError) -> None:
    """Raise ``error`` with no cause and no context (nothing that could hold credentials)."""
    error.__cause__ = None
    error.__suppress_context__ = True
    try:
        raise error
    finally:
        error.__context__ = None


def _split_bodies(message: Text | Markdown, at: At) -> list[bytes]:
    """Numbered bodies, each within the limit; the mention goes on the first part only."""
    is_text = isinstance(message, Text)
    text = message.content if isinstance(message, Text) else message.text
    skeleton = _part(message, "", 999, 999)
    overhead = len(encode_body(with_mentions(skeleton, at), at)) + _MARKER_RESERVE
    pieces = split_text(text, MAX_BODY_BYTES - overhead, markdown=not is_text)
    bodies = []
    for index, piece in enumerate(pieces, 1):
        part = _part(message, piece, index, len(pieces))
        part_at = at if index == 1 else At()
        bodies.append(encode_body(with_mentions(part, part_at), part_at))
    if any(len(b) > MAX_BODY_BYTES for b in bodies):  # defensive: a pathological fence line
        raise WebhookMessageTooLargeError("the message could not be split into parts that fit")
    return bodies


def _part(message: Text | Markdown, piece: str, index: int, total: int) -> Text | Markdown:
    marker = f"({index}/{total})"
    if isinstance(message, Text):
        return Text(content=f"{marker}\n{piece}")
    return Markdown(title=f"{message.title} {marker}", text=f"{marker}\n\n{piece}")
