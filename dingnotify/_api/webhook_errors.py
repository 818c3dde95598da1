"""Errors a group webhook robot can answer, and the errcode -> class map.

    DingNotifyError
    ├── DingTalkError
    │   ├── WebhookRejectedError          310000: keywords / signature / timestamp / IP
    │   ├── WebhookTokenNotFoundError     300005: the robot's access token does not exist
    │   ├── WebhookParameterError         400402: a parameter is missing or malformed
    │   ├── WebhookBodyTooLargeError      460101: the body is over 20,000 bytes
    │   └── RateLimitedError
    │       └── WebhookRateLimitedError   130101: over 20 messages a minute (retried)
    └── ValidationError
        └── WebhookMessageTooLargeError   refused before sending (use ``split=True``)

Only 130101 is retried: the other answers mean the robot, its secret or the message is
wrong, and sending again cannot fix that. 130101 carries ``pause``: the robot's budget
closes for a whole minute window, since DingTalk does not say when its window slides.
Re-exported by ``dingnotify.webhook``.
"""

from __future__ import annotations

import re
from typing import Literal

from .._errors import DingTalkError, RateLimitedError, ValidationError

Reason = Literal["keywords", "signature", "timestamp", "ip", "unknown"]

REJECTED = 310000
TOKEN_NOT_FOUND = 300005
PARAMETER_MISSING = 400402
TOO_LARGE = 460101
RATE_LIMITED = 130101
# 130101 closes the robot for the rest of DingTalk's minute window; it does not say how
# much is left, so a whole window (60 s) is the safe pause.
RATE_LIMITED_PAUSE = 60.0


class WebhookRejectedError(DingTalkError):
    """310000: DingTalk refused the robot call; ``reason`` says which rule failed."""

    def __init__(self, errcode: int = REJECTED, errmsg: str = "") -> None:
        self.reason: Reason = rejection_reason(errmsg)
        super().__init__(errcode, errmsg)


class WebhookTokenNotFoundError(DingTalkError):
    """300005: the access token in the webhook URL names no robot (deleted or mistyped)."""


class WebhookParameterError(DingTalkError):
    """400402: DingTalk found a parameter missing or malformed in the message."""


class WebhookBodyTooLargeError(DingTalkError):
    """460101: the body was over 20,000 bytes (only reachable if the check was bypassed)."""


class WebhookRateLimitedError(RateLimitedError):
    """130101: more than 20 messages in a minute reached the robot (from any process)."""

    pause = RATE_LIMITED_PAUSE


class WebhookMessageTooLargeError(ValidationError):
    """The encoded body exceeds 20,000 bytes; nothing was sent."""


_CLASSES: dict[int, type[DingTalkError]] = {
    TOKEN_NOT_FOUND: WebhookTokenNotFoundError,
    PARAMETER_MISSING: WebhookParameterError,
    TOO_LARGE: WebhookBodyTooLargeError,
    RATE_LIMITED: WebhookRateLimitedError,
}

_REASON_PATTERNS: tuple[tuple[re.Pattern[str], Reason], ...] = (
    (re.compile(r"keyword"), "keywords"),
    (re.compile(r"sign"), "signature"),
    (re.compile(r"timestamp"), "timestamp"),
    (re.compile(r"\bip\b|whitelist"), "ip"),
)


def rejection_reason(errmsg: str) -> Reason:
    """Which 310000 rule failed, read from DingTalk's ``errmsg``."""
    text = errmsg.lower()
    for pattern, reason in _REASON_PATTERNS:
        if pattern.search(text):
            return reason
    return "unknown"


def webhook_error_for(errcode: int, errmsg: str) -> DingTalkError:
    """The most specific error for a webhook answer with a non-zero ``errcode``."""
    if errcode == REJECTED:
        return WebhookRejectedError(errcode, errmsg)
    return _CLASSES.get(errcode, DingTalkError)(errcode, errmsg)
