"""Media upload: the ids that image, voice, file and OA messages reference."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import BinaryIO

from .._api.oapi import OapiCaller
from .._constants import MEDIA_TYPES, PATH_MEDIA_UPLOAD
from .._coordination import Priority
from .._errors import ResponseDecodeError, ValidationError
from .._retry import RetryPolicy
from .._transport import multipart
from ._models import MediaUpload
from ._wire import MediaResponse

# DingTalk's current limits (older limits were stricter; the server enforces them).
MAX_MEDIA_BYTES = {"image": 20 << 20, "voice": 2 << 20, "video": 20 << 20, "file": 20 << 20}


def _read(data: bytes | bytearray | BinaryIO | os.PathLike[str] | str) -> tuple[bytes, str | None]:
    if isinstance(data, bytes | bytearray):
        return bytes(data), None
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        return path.read_bytes(), path.name
    return data.read(), getattr(data, "name", None)


class Media:
    """``client.media``."""

    def __init__(self, api: OapiCaller) -> None:
        self._api = api

    async def upload(
        self,
        data: bytes | bytearray | BinaryIO | os.PathLike[str] | str,
        *,
        media_type: str,
        filename: str | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> str:
        """Upload bytes, a file object or a path; returns the ``media_id``."""
        return (await self.upload_detailed(
            data, media_type=media_type, filename=filename, content_type=content_type,
            timeout=timeout, retry=retry, priority=priority,
        )).media_id

    async def upload_detailed(
        self,
        data: bytes | bytearray | BinaryIO | os.PathLike[str] | str,
        *,
        media_type: str,
        filename: str | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> MediaUpload:
        """Like ``upload``, also returning the type and creation time DingTalk reports."""
        if media_type not in MEDIA_TYPES:
            raise ValidationError(f"media_type must be one of {sorted(MEDIA_TYPES)}")
        content, found_name = _read(data)
        name = filename or (os.path.basename(found_name) if found_name else None)
        if not name:
            raise ValidationError("filename is required: DingTalk checks its extension")
        if not content:
            raise ValidationError("cannot upload an empty file")
        if len(content) > MAX_MEDIA_BYTES[media_type]:
            raise ValidationError(
                f"{media_type} files are limited to {MAX_MEDIA_BYTES[media_type]} bytes"
            )
        mime = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"

        body, content_type_header = await multipart("media", name, content, mime)
        envelope = await self._api.send(
            "POST", PATH_MEDIA_UPLOAD, MediaResponse, body=body,
            content_type=content_type_header, query={"type": media_type}, timeout=timeout,
            retry=retry, priority=priority,
        )
        if not envelope.media_id:
            raise ResponseDecodeError(f"{PATH_MEDIA_UPLOAD}: response has no media_id")
        return MediaUpload(
            media_id=envelope.media_id, type=envelope.type or media_type,
            created_at=envelope.created_at,
        )
