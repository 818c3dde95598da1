"""Group webhook robots: signed, paced under 20 a minute, long messages split, and logging.

::

    async with WebhookRobot(url, secret="SEC...") as robot:
        await robot.send(Markdown(title="Deploy", text="### v1.2 is live"))

``WebhookHandler`` sends log records to the same kind of robot from a background thread.
The errors and the signature belong to the webhook family (``dingnotify._api``) and are
re-exported here.
"""

from ._errors import (
    WebhookBodyTooLargeError,
    WebhookMessageTooLargeError,
    WebhookParameterError,
    WebhookRateLimitedError,
    WebhookRejectedError,
    WebhookTokenNotFoundError,
)
from ._handler import WebhookHandler
from ._messages import (
    ActionCard,
    ActionCardButton,
    FeedCard,
    FeedCardLink,
    Link,
    Markdown,
    Text,
    WebhookMessage,
)
from ._pacing import SlidingWindowLimiter
from ._robot import DEFAULT_MAX_PARTS, MAX_BODY_BYTES, WebhookRobot
from ._signing import sign

__all__ = [
    "DEFAULT_MAX_PARTS",
    "MAX_BODY_BYTES",
    "ActionCard",
    "ActionCardButton",
    "FeedCard",
    "FeedCardLink",
    "Link",
    "Markdown",
    "SlidingWindowLimiter",
    "Text",
    "WebhookBodyTooLargeError",
    "WebhookHandler",
    "WebhookMessage",
    "WebhookMessageTooLargeError",
    "WebhookParameterError",
    "WebhookRateLimitedError",
    "WebhookRejectedError",
    "WebhookRobot",
    "WebhookTokenNotFoundError",
    "sign",
]
