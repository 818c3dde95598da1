"""The Taobao Open Platform gateway: ``TopClient`` and the lippi message API."""

from ._gateway import TopClient, top_timestamp
from ._lyservice import LippiContentType, LippiResult, LyDingOpenPara, LyOpenMessage
from ._signing import SIGN_METHODS

__all__ = [
    "SIGN_METHODS",
    "LippiContentType",
    "LippiResult",
    "LyDingOpenPara",
    "LyOpenMessage",
    "TopClient",
    "top_timestamp",
]
