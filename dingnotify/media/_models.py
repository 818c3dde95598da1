"""Typed results of the media API."""

from __future__ import annotations

import msgspec


class MediaUpload(msgspec.Struct, frozen=True, kw_only=True):
    """``media/upload``: the id to reference in messages, and when it was created (epoch ms)."""

    media_id: str
    type: str
    created_at: int | None = None
