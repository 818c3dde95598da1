"""Access tokens and uploaded media: the small pieces of server state besides tasks.

Tokens as DingTalk issues them: 7200 s of life, the same token is returned while valid and each
``/gettoken`` extends it. Expiry is judged by the injected clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ._clock import Clock
from ._org import App

TOKEN_TTL = 7200

MEDIA_TYPES = ("image", "voice", "video", "file")
MEDIA_EXTENSIONS: dict[str, frozenset[str]] = {
    "image": frozenset({"jpg", "jpeg", "gif", "png", "bmp"}),
    "voice": frozenset({"amr", "mp3", "wav"}),
    "video": frozenset({"mp4"}),
    "file": frozenset({"doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "pdf", "rar"}),
}
MB = 1024 * 1024
DEFAULT_MEDIA_LIMITS: dict[str, int] = {
    "image": 20 * MB, "voice": 2 * MB, "video": 20 * MB, "file": 20 * MB,
}
SEEDED_MEDIA_PREFIX = "@lADO"
"""Ids of this shape (``@lADOdvRYes0CbM0CbA``) count as already uploaded."""


@dataclass(slots=True)
class _Token:
    app: App
    expires_at: float


class TokenStore:
    """One live token per app; minted tokens are 32 lowercase hex chars."""

    def __init__(self, clock: Clock, seed: int, ttl: float = TOKEN_TTL) -> None:
        self._clock = clock
        self._rng = random.Random(f"token:{seed}")
        self.ttl = ttl
        self._by_token: dict[str, _Token] = {}
        self._by_app: dict[str, str] = {}
        self.issued = 0

    def issue(self, app: App) -> str:
        """The app's current token (life extended) or a fresh one."""
        now = self._clock()
        current = self._by_app.get(app.app_key)
        if current is not None:
            entry = self._by_token.get(current)
            if entry is not None and entry.expires_at > now:
                entry.expires_at = now + self.ttl
                return current
            self._by_token.pop(current, None)
        token = f"{self._rng.getrandbits(128):032x}"
        self._by_token[token] = _Token(app, now + self.ttl)
        self._by_app[app.app_key] = token
        self.issued += 1
        return token

    def app_for(self, token: str | None) -> App | None:
        """The app a token belongs to, or None if unknown, revoked or expired."""
        if not token:
            return None
        entry = self._by_token.get(token)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            return None
        return entry.app

    def revoke_all(self) -> None:
        self._by_token.clear()
        self._by_app.clear()


@dataclass(frozen=True, slots=True)
class Media:
    media_id: str
    type: str
    filename: str
    size: int
    created_at_ms: int


class MediaStore:
    """Uploaded media by id; ids look like DingTalk's (``@lADP`` + url-safe chars)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"media:{seed}")
        self.items: dict[str, Media] = {}

    def add(self, media_type: str, filename: str, size: int, created_at_ms: int) -> Media:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
        media_id = "@lADP" + "".join(self._rng.choices(alphabet, k=24))
        media = Media(media_id, media_type, filename, size, created_at_ms)
        self.items[media_id] = media
        return media

    def register(self, media_id: str, media_type: str = "image") -> None:
        """Make a pre-existing id acceptable in messages."""
        self.items[media_id] = Media(media_id, media_type, "", 0, 0)

    def known(self, media_id: str) -> bool:
        return media_id in self.items or media_id.startswith(SEEDED_MEDIA_PREFIX)
