"""Typed results (each lives with its channel: work_notice, users, media)."""

from .media._models import MediaUpload
from .users._models import MobileLookup
from .work_notice._models import ForbiddenRecord, SendProgress, SendResult

__all__ = ["ForbiddenRecord", "MediaUpload", "MobileLookup", "SendProgress", "SendResult"]
