"""Secret redaction for anything that may reach a log line, repr or exception message."""

from __future__ import annotations

import re

_SECRET_PARAMS = re.compile(
    r"(?i)\b(access_token|appsecret|app_secret|corpsecret|secret|sign|session)=([^&#\s'\"]*)"
)


_SECRET_JSON = re.compile(
    r'(?i)("(?:access_token|appsecret|app_secret|corpsecret|secret|sign|session)"\s*:\s*")'
    r'[^"]*("?)'
)


def redact(text: str) -> str:
    """Mask secret values in a URL's query or in a (possibly truncated) JSON body."""
    return _SECRET_JSON.sub(r"\1***\2", _SECRET_PARAMS.sub(r"\1=***", text))


def scrub(text: str, *secrets: Secret | None) -> str:
    """``text`` with every occurrence of the given secrets masked (a server may echo them)."""
    for secret in secrets:
        if secret is not None and secret.reveal() and secret.reveal() in text:
            text = text.replace(secret.reveal(), "***")
    return redact(text)


class Secret:
    """A string that never shows itself in ``repr``/``str`` (tracebacks, debuggers, logs)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself: pass it straight on, never keep it in a local variable."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
