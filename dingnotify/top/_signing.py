"""TOP signatures live with the TOP family (``dingnotify._api.top_signing``)."""

from .._api.top_signing import SIGN_METHODS, sign

__all__ = ["SIGN_METHODS", "sign"]
