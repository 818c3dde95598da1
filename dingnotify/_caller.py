"""What the two API families' callers share: their parts and URLs.

A call is one ``HttpCore.run`` (the retry engine inside the client's lifecycle bracket);
each family (oapi, the new-generation API) only says what one attempt is.
"""

from __future__ import annotations

from yarl import URL

from ._coordination import QuotaGovernor
from ._http import HttpCore
from ._redact import Secret
from ._token import TokenRefresher


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
