"""``WebhookRobot``: send messages to a DingTalk group through a custom robot's webhook.

It runs on the stack the clients share: one ``HttpCore`` over a pooled transport (no
redirects, a capped body), the retry engine (jittered backoff; only 130101 and transport
failures are retried), and a governor budget of 20 messages a minute per robot URL. The
webhook family (``dingnotify._api.webhook``) signs each attempt and reads the answers;
errors come from frames that hold neither the access token nor the secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Unpack, cast

import aiohttp

from .._api import Call, Caller
from .._api.webhook import CALLS_PER_WINDOW, WINDOW_SECONDS, WebhookFamily, budget_key
from .._api.webhook_errors import WebhookMessageTooLargeError, WebhookRateLimitedError
from .._constants import DEFAULT_CLOSE_GRACE, DEFAULT_TIMEOUT
from .._coordination import BudgetGovernor, Coordination
from .._errors import ValidationError
from .._http import ClientLifecycle, HttpCore
from .._options import ConnectorOptions
from .._quota import Quota
from .._retry import RetryPolicy
from .._transport import AsyncTransport, client_transport
from ._messages import MENTIONABLE, At, Markdown, Text, WebhookMessage, encode_body, with_mentions
from ._options import RobotKeywords, default_policy, legacy_options
from ._pacing import SHARED, SlidingWindowLimiter, WindowGovernor
from ._signing import Credentials
from ._split import json_cost, split_text

log = logging.getLogger("dingnotify.webhook")

MAX_BODY_BYTES = 20_000
DEFAULT_MAX_PARTS = 10
"""At most this many parts for one ``split=True`` message (half a robot's minute budget)."""
PATH = "/robot/send"
_MARKER_RESERVE = json_cost("(999/999)\n\n")


def _nothing(answer: object) -> None:
    return None


class WebhookRobot(ClientLifecycle):
    """One custom group robot: ``async with WebhookRobot(url, secret=...) as robot``.

    Like the clients it takes ``transport=`` (``dingnotify.testing.MockTransport``),
    ``session=`` (used, left open) or ``connector=ConnectorOptions(...)``, and
    ``retry=RetryPolicy(...)``. Its 20 messages a minute are a budget in ``governor=``
    (a ``Governor``, shared with other robots or a client) or in the governor of
    ``coordination=`` (shared by every process); by default, in the process-wide window
    of its URL, shared by every robot on that URL on any thread or event loop. ``clock``
    gives epoch seconds for signatures. The former ``max_retries=``,
    ``max_rate_limited_retries=``, ``retry_delay=`` and ``limiter=`` still work for one
    release, with a ``DeprecationWarning``.
    """

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        *,
        transport: AsyncTransport | None = None,
        session: aiohttp.ClientSession | None = None,
        connector: ConnectorOptions | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        governor: BudgetGovernor | None = None,
        coordination: Coordination | None = None,
        close_grace: float = DEFAULT_CLOSE_GRACE,
        clock: Callable[[], float] = time.time,
        **deprecated: Unpack[RobotKeywords],
    ) -> None:
        parsed = Credentials.parse(url, secret)
        del url, secret  # from here on, no frame of ours holds the raw credentials
        if isinstance(parsed, str):
            raise ValidationError(parsed)
        if governor is not None and coordination is not None:
            raise ValidationError("give governor= or coordination=, not both")
        retry, limiter = legacy_options(retry, governor is not None or coordination is not None,
                                        deprecated, stacklevel=2)
        wire = client_transport("WebhookRobot", transport, session, connector, {})
        self._creds = parsed
        self.api = budget_key(parsed)
        """The robot's name in its governor: a digest of the URL, never the token."""
        budget = _budget(self.api, governor, coordination, limiter)
        self.limiter: SlidingWindowLimiter | None = (
            budget.window(self.api) if isinstance(budget, WindowGovernor) else None)
        """The robot's thread-safe window, unless it draws on a governor of yours."""
        self._http = HttpCore(wire, timeout=timeout,
                              retry=retry if retry is not None else default_policy(),
                              close_grace=close_grace)
        self._api = Caller(self._http, WebhookFamily(parsed, clock=clock), governor=budget)

    @property
    def governor(self) -> BudgetGovernor:
        """Where this robot's 20 messages a minute are counted."""
        return cast(BudgetGovernor, self._api.governor)

    async def close(self) -> None:
        """The same as ``aclose()``."""
        await self.aclose()

    # -- sending --------------------------------------------------------------------

    async def send(
        self,
        message: WebhookMessage,
        *,
        at_mobiles: Iterable[str] = (),
        at_userids: Iterable[str] = (),
        at_all: bool = False,
        split: bool = False,
        max_parts: int = DEFAULT_MAX_PARTS,
        retry: RetryPolicy | None = None,
    ) -> int:
        """Send ``message`` (as numbered parts, in order, if ``split``); returns parts sent.

        Everything is validated before the first request, so a bad message sends nothing;
        a message that would need more than ``max_parts`` parts (default 10) is refused
        with ``ValidationError``. ``retry`` overrides the robot's policy for this send.
        """
        bodies = self.prepare(message, at_mobiles=at_mobiles, at_userids=at_userids,
                              at_all=at_all, split=split, max_parts=max_parts)
        for body in bodies:
            await self._api.call(Call("POST", PATH, _nothing, body=body, api=self.api),
                                 retry=retry, on_retry=self._on_retry)
        return len(bodies)

    def prepare(
        self,
        message: WebhookMessage,
        *,
        at_mobiles: Iterable[str] = (),
        at_userids: Iterable[str] = (),
        at_all: bool = False,
        split: bool = False,
        max_parts: int = DEFAULT_MAX_PARTS,
    ) -> list[bytes]:
        """The exact request bodies ``send`` would post; raises ``ValidationError``."""
        if isinstance(max_parts, bool) or not isinstance(max_parts, int) or max_parts < 1:
            raise ValidationError("max_parts must be a positive int")
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
        bodies = _split_bodies(message, at)
        if len(bodies) > max_parts:
            raise ValidationError(f"the message needs {len(bodies)} parts, over max_parts="
                                  f"{max_parts} (raise max_parts or shorten the message)")
        return bodies

    def _on_retry(self, attempt: int, error: BaseException, wait: float) -> None:
        if isinstance(error, WebhookRateLimitedError):
            log.warning("webhook robot %s throttled (130101); waiting for the window",
                        self._creds.key)

    def __repr__(self) -> str:
        creds = getattr(self, "_creds", None)  # also called on a half-built robot
        if creds is None:
            return "<WebhookRobot (not configured)>"
        return f"<WebhookRobot {creds.endpoint} signed={creds.signed}>"


def _budget(api: str, governor: BudgetGovernor | None, coordination: Coordination | None,
            limiter: SlidingWindowLimiter | None) -> BudgetGovernor:
    """The governor holding the robot's budget, with that budget set."""
    if limiter is not None:
        return WindowGovernor(limiter)
    if coordination is not None:
        shared = coordination.governor(api, Quota())
        if not callable(getattr(shared, "limit", None)):
            raise ValidationError("this coordination's governor cannot hold a robot's budget "
                                  "(it has no limit())")
        governor = cast(BudgetGovernor, shared)
    chosen = governor if governor is not None else SHARED
    chosen.limit(api, CALLS_PER_WINDOW, WINDOW_SECONDS)
    return chosen


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
