"""The group robot's credentials and the per-request signature (the webhook family's).

The access token sits in the webhook URL and the secret signs every request; both are
kept in ``Credentials`` (whose repr hides them) and only meet the URL at the moment a
request is made, so no log line, repr or frame local holds them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from yarl import URL

from .._redact import Secret

TOKEN_PARAM = "access_token"


def sign(secret: str, timestamp_ms: int) -> str:
    """Base64 of HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"), as DingTalk wants."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


class Credentials:
    """Endpoint, access token and optional secret of one robot; never shown in reprs."""

    __slots__ = ("_secret", "_token", "endpoint")

    def __init__(self, endpoint: URL, token: str, secret: str | None) -> None:
        self.endpoint = endpoint
        self._token = Secret(token)
        self._secret = None if secret is None else Secret(secret)

    @classmethod
    def parse(cls, url: str | URL, secret: str | None) -> Credentials | str:
        """Credentials from a webhook URL, or a message saying why the URL is unusable.

        Returning the message (instead of raising here) lets the caller raise from a frame
        that no longer holds the URL or the secret.
        """
        try:
            parsed = URL(url)
        except (TypeError, ValueError):
            return "the webhook URL is not a valid URL"
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return "the webhook URL must be an http(s) URL"
        if parsed.raw_user is not None or parsed.raw_password is not None:
            # DingTalk webhook URLs never carry one; kept, it would show in every error
            return "the webhook URL must not carry a user name or password (user:password@)"
        token = parsed.query.get(TOKEN_PARAM, "")
        if not token:
            return "the webhook URL has no access_token parameter"
        if secret is not None and not secret:
            return "the signing secret is empty"
        endpoint = parsed.with_query(None).with_fragment(None)
        return cls(endpoint, token, secret)

    @property
    def key(self) -> str:
        """A stable digest of endpoint and token: names this robot without revealing it."""
        raw = f"{self.endpoint}\n{self._token.reveal()}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    @property
    def signed(self) -> bool:
        """Whether requests carry ``timestamp`` and ``sign``."""
        return self._secret is not None

    def url(self, now_ms: int) -> URL:
        """The URL for one request, signed with a fresh timestamp when there is a secret."""
        query = {TOKEN_PARAM: self._token.reveal()}
        if self._secret is not None:
            query["timestamp"] = str(now_ms)
            query["sign"] = sign(self._secret.reveal(), now_ms)
        return self.endpoint.with_query(query)

    def redact(self, text: str) -> str:
        """``text`` with the token and the secret (in any encoding we send) replaced."""
        for secret in (self._token, self._secret):
            value = "" if secret is None else secret.reveal()
            if value:
                for form in {value, str(URL.build(query={"v": value}).query_string)[2:]}:
                    text = text.replace(form, "***")
        return text

    def __repr__(self) -> str:
        return f"Credentials({self.endpoint}, token=***, signed={self.signed})"
