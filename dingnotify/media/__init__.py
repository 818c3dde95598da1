"""Media (``client.media``): upload images, voice, video and files for messages."""

from ._models import MediaUpload
from ._resource import MAX_MEDIA_BYTES, Media

__all__ = ["MAX_MEDIA_BYTES", "Media", "MediaUpload"]
