"""The robot's credentials and signature live with the webhook family (``dingnotify._api``);
re-exported here under their old import path."""

from .._api.webhook_signing import TOKEN_PARAM, Credentials, sign

__all__ = ["TOKEN_PARAM", "Credentials", "sign"]
