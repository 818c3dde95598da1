"""What the two API families' callers share: their parts, URLs, and one run per call.

A call is one run of the retry engine inside the client's lifecycle bracket; each family
(oapi, the new-generation API) only says what one attempt is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from yarl import URL

from ._coordination import QuotaGovernor
from ._http import HttpCore
from ._redact import Secret
from ._retry import RetryHook, RetryPolicy, retrying
from ._token import TokenRefresher

T = TypeVar("T")


class ApiCaller:
    """Transport, token refresher and quota governor of one API family."""

    def __init__(
        self,
        http: HttpCore,
        base_url: str,
        tokens: TokenRefresher,
        governor: QuotaGovernor | None,
        app_secret: Secret,
    ) -> None:
        self.http = http
        self.base_url = base_url
        self.tokens = tokens
        self.governor = governor
        self._app_secret = app_secret
        self._urls: dict[str, URL] = {}

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self.base_url + path)
        return url

    async def _run(
        self,
        attempt: Callable[[float], Awaitable[T]],
        *,
        timeout: float | None,
        retry: RetryPolicy | None,
        on_retry: RetryHook | None,
    ) -> T:
        """``attempt`` under the retry engine, counted as one call of the client."""
        async with self.http.call():
            return await retrying(
                attempt, retry if retry is not None else self.http.retry,
                timeout=timeout if timeout is not None else self.http.timeout,
                on_retry=on_retry,
            )
