"""The Taobao Open Platform gateway: ``TopClient`` and the lippi message API."""

from ._gateway import TopClient, parse_response, top_timestamp
from ._lyservice import ContentType, LippiResult, LyDingOpenPara, LyOpenMessage, LyService
from ._signing import SIGN_METHODS, sign

__all__ = [
    "SIGN_METHODS",
    "ContentType",
    "LippiResult",
    "LyDingOpenPara",
    "LyOpenMessage",
    "LyService",
    "TopClient",
    "parse_response",
    "sign",
    "top_timestamp",
]
