"""One attempt loop for every API family.

A ``Call`` says what to send; a ``Family`` says where its credential goes and how an
answer becomes a value or a typed error. ``Caller`` runs one call through the retry engine
(``HttpCore.run``), and each attempt the same way, whatever the family::

    governor slot -> credential (token) -> family.request -> transport -> slot done
      -> family.outcome -> TokenError: refresh once and go again
                        -> RateLimitedError: the governor closes the API for error.pause

The slot comes before the token: a call may wait long for its slot (behind a broadcast,
for the recipients budget), and a token taken before that wait may have been refreshed
by the time the call goes out. Windows count from the answer (``_quota``), so the token
fetch between slot and request costs no margin. The slot waits no longer than what is
left of the retry policy's ``deadline``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from yarl import URL

from .._coordination import Priority, QuotaGovernor
from .._errors import (
    DingNotifyError,
    HTTPStatusError,
    RateLimitedError,
    TokenError,
    status_error_for,
)
from .._http import HttpCore, retry_after
from .._redact import Secret
from .._retry import RetryHook, RetryPolicy
from .._token import TokenRefresher
from .._transport import Request, ResponseLike

T = TypeVar("T")
Secrets = tuple[Secret | None, ...]


class Call(Generic[T]):
    """What one API call sends, and ``decode``: what the family read of the answer (the
    body for oapi and v1.0; the unwrapped object for TOP) turned into the call's value.

    ``api`` names the governor's budget (the path, unless a family says otherwise);
    ``recipients`` is what the call draws from the per-minute recipients budget.
    ``repeatable`` is a property of the API: False when DingTalk does not drop a repeat
    (the robot's sends), so an attempt that may have reached it is never tried again.
    ``priority`` is who waits for the answer: a person, or a bulk job.
    """

    __slots__ = ("api", "body", "decode", "headers", "method", "path", "priority", "query",
                 "recipients", "repeatable")

    def __init__(
        self,
        method: str,
        path: str,
        decode: Callable[[Any], T],
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        recipients: int = 0,
        api: str | None = None,
        repeatable: bool = True,
        priority: Priority = "interactive",
    ) -> None:
        self.method = method
        self.path = path
        self.decode = decode
        self.body = body
        self.headers = headers
        self.query = query
        self.recipients = recipients
        self.api = path if api is None else api
        self.repeatable = repeatable
        self.priority = priority


class Family(Protocol):
    """The two things that differ between DingTalk's API families."""

    def request(self, call: Call[Any], token: Secret | None, timeout: float) -> Request:
        """The request for one attempt, with the credential where this family wants it."""
        ...

    def outcome(
        self, response: ResponseLike, request: Request, call: Call[T], secrets: Secrets
    ) -> T | DingNotifyError:
        """The decoded answer, or the typed error to raise (``secrets`` masked in its text).

        Returned, not raised, so that no frame of its traceback holds the raw body."""
        ...


class Endpoints:
    """A family's URLs under its base, each built once."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._urls: dict[str, URL] = {}

    def url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self.base_url + path)
        return url


def status_failure(response: ResponseLike, request: Request) -> HTTPStatusError:
    """The error for an HTTP status a family does not expect (never a redirect followed)."""
    return status_error_for(response.status,
                            f"{request.where} answered HTTP {response.status}",
                            retry_after=retry_after(response))


async def read_once(
    http: HttpCore, family: Family, request: Request, call: Call[T], secrets: Secrets
) -> T:
    """One request outside the attempt loop, read by ``family``: a token fetch, which has
    no token and takes no slot (it runs inside the attempt that needs the token)."""
    outcome = family.outcome(await http.exchange(request), request, call, secrets)
    if isinstance(outcome, DingNotifyError):
        raise outcome
    return outcome


class Caller:
    """Sends one family's calls with a valid credential, within the quota, per policy."""

    def __init__(
        self,
        http: HttpCore,
        family: Family,
        *,
        tokens: TokenRefresher | None = None,
        governor: QuotaGovernor | None = None,
        secrets: Secrets = (),
    ) -> None:
        self.http = http
        self.family = family
        self.tokens = tokens
        self.governor = governor
        self._secrets = secrets

    def call(
        self,
        call: Call[T],
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_attempt: Callable[[], None] | None = None,
        on_retry: RetryHook | None = None,
    ) -> Awaitable[T]:
        """One API call, to await: every attempt it takes, within ``timeout`` each and
        ``retry``; ``on_attempt`` runs just before each request is written.

        A plain function handing back ``HttpCore.run``'s coroutine: every layer of
        coroutines costs each of a broadcast's requests, so there is none here."""
        deadline = (retry if retry is not None else self.http.retry).deadline
        return self.http.run(
            partial(self._attempt, call, on_attempt,
                    None if deadline is None or self.governor is None else _Left(deadline)),
            timeout=timeout, retry=retry, on_retry=on_retry, repeatable=call.repeatable)

    async def _attempt(
        self, call: Call[T], on_attempt: Callable[[], None] | None, left: _Left | None,
        timeout: float,
    ) -> T:
        tokens, governor = self.tokens, self.governor
        stale: Secret | None = None  # the token DingTalk rejected: it may echo it back
        while True:
            slot = None if governor is None else await governor.acquire(
                call.api, call.recipients, priority=call.priority,
                within=None if left is None else left())
            try:
                token = None if tokens is None else await tokens.get(timeout)
                request = self.family.request(call, token, timeout)
                if on_attempt is not None:
                    on_attempt()
                response = await self.http.exchange(request)
            finally:
                if slot is not None:
                    slot.done()
            outcome = self.family.outcome(response, request, call,
                                          (token, stale, *self._secrets))
            if not isinstance(outcome, DingNotifyError):
                return outcome
            if isinstance(outcome, TokenError) and tokens is not None and token is not None \
                    and stale is None:
                stale = token
                await tokens.invalidate(token)
                continue
            if isinstance(outcome, RateLimitedError) and governor is not None:
                governor.penalize(call.api, outcome)
            raise outcome


class _Left:
    """What is left of a retry policy's ``deadline``, counted from the first attempt (as
    the retry engine counts it): how long a slot may be waited for."""

    __slots__ = ("_deadline", "_ends")

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        self._ends: float | None = None

    def __call__(self) -> float:
        if self._ends is None:
            self._ends = time.monotonic() + self._deadline
        return max(0.0, self._ends - time.monotonic())
