"""The webhook errors and their errcode map live with the webhook family
(``dingnotify._api.webhook_errors``); re-exported here under their old import path."""

from .._api.webhook_errors import (
    PARAMETER_MISSING,
    RATE_LIMITED,
    REJECTED,
    TOKEN_NOT_FOUND,
    TOO_LARGE,
    WebhookBodyTooLargeError,
    WebhookMessageTooLargeError,
    WebhookParameterError,
    WebhookRateLimitedError,
    WebhookRejectedError,
    WebhookTokenNotFoundError,
    rejection_reason,
    webhook_error_for,
)

__all__ = [
    "PARAMETER_MISSING",
    "RATE_LIMITED",
    "REJECTED",
    "TOKEN_NOT_FOUND",
    "TOO_LARGE",
    "WebhookBodyTooLargeError",
    "WebhookMessageTooLargeError",
    "WebhookParameterError",
    "WebhookRateLimitedError",
    "WebhookRejectedError",
    "WebhookTokenNotFoundError",
    "rejection_reason",
    "webhook_error_for",
]
