"""Media API answers as DingTalk sends them."""

from __future__ import annotations

from .._api.oapi_wire import Envelope


class MediaResponse(Envelope):
    media_id: str | None = None
    type: str | None = None
    created_at: int | None = None
