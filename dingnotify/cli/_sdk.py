"""Every SDK name the command line uses, in one place.

The CLI is a thin layer over the public API: its modules import the SDK only from here, so
switching to ``from dingnotify import ...`` is a change to this file alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import (
    DEFAULT_BASE_URL,
    DEFAULT_RESEND_DELAY,
    DEFAULT_RESEND_ROUNDS,
    Batch,
    BroadcastEvent,
    BroadcastReport,
    ConnectionFailedError,
    CredentialsError,
    DeliveryTimeoutError,
    DingNotifyError,
    DingTalkClient,
    Governor,
    InvalidArgumentError,
    Markdown,
    Message,
    NotFoundError,
    PlannedBatch,
    Quota,
    SendProgress,
    SendResult,
    Text,
    ValidationError,
    __version__,
    batch_count,
    check_userid,
    encode_msg,
    message_from_dict,
    plan_batches,
    unique_dept_ids,
    unique_userids,
)
from ..cards import SPACES_PER_CARD, CardBroadcastReport, card_param_map
from ..relay import QueueError, Relay, RelayConfig, RelayConfigError, load_config
from ..robot import (
    Robot,
    RobotBroadcastReport,
    RobotMessage,
    RobotReadStatus,
    RobotRecallResult,
    RobotSendResult,
    SampleMarkdown,
    SampleText,
    encode_msg_param,
)
from ..users import check_mobile
from ..webhook import (
    DEFAULT_MAX_PARTS,
    WebhookMessage,
    WebhookRejectedError,
    WebhookRobot,
    WebhookTokenNotFoundError,
)
from ..webhook import Markdown as WebhookMarkdown
from ..webhook import Text as WebhookText
from ..work_notice import SEND_API, WorkNotice

if TYPE_CHECKING:
    from ..redis import RedisCoordination

EDITIONS = ("standard", "professional", "exclusive")


def redis_coordination(url: str) -> RedisCoordination:
    """``--redis URL``: imported only when asked for (``redis`` is an extra)."""
    from ..redis import RedisCoordination

    return RedisCoordination.from_url(url)


def quota_for(edition: str | None) -> Quota:
    """The quota of a DingTalk edition (standard when not given)."""
    return {"professional": Quota.professional, "exclusive": Quota.exclusive}.get(
        edition or "standard", Quota.standard)()


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_PARTS",
    "DEFAULT_RESEND_DELAY",
    "DEFAULT_RESEND_ROUNDS",
    "EDITIONS",
    "SEND_API",
    "SPACES_PER_CARD",
    "Batch",
    "BroadcastEvent",
    "BroadcastReport",
    "CardBroadcastReport",
    "ConnectionFailedError",
    "CredentialsError",
    "DeliveryTimeoutError",
    "DingNotifyError",
    "DingTalkClient",
    "Governor",
    "InvalidArgumentError",
    "Markdown",
    "Message",
    "NotFoundError",
    "PlannedBatch",
    "QueueError",
    "Quota",
    "RedisCoordination",
    "Relay",
    "RelayConfig",
    "RelayConfigError",
    "Robot",
    "RobotBroadcastReport",
    "RobotMessage",
    "RobotReadStatus",
    "RobotRecallResult",
    "RobotSendResult",
    "SampleMarkdown",
    "SampleText",
    "SendProgress",
    "SendResult",
    "Text",
    "ValidationError",
    "WebhookMarkdown",
    "WebhookMessage",
    "WebhookRejectedError",
    "WebhookRobot",
    "WebhookText",
    "WebhookTokenNotFoundError",
    "WorkNotice",
    "__version__",
    "batch_count",
    "card_param_map",
    "check_mobile",
    "check_userid",
    "encode_msg",
    "encode_msg_param",
    "load_config",
    "message_from_dict",
    "plan_batches",
    "quota_for",
    "redis_coordination",
    "unique_dept_ids",
    "unique_userids",
]
