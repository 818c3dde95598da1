"""``Media`` under its old import path."""

from ..media import MAX_MEDIA_BYTES, Media

__all__ = ["MAX_MEDIA_BYTES", "Media"]
