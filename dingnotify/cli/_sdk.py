"""Every SDK name the command line uses, in one place.

The CLI is a thin layer over the public API: its modules import the SDK only from here, so
switching to ``from dingnotify import ...`` is a change to this file alone.
"""

from __future__ import annotations

from .._client import DingTalkClient
from .._constants import DEFAULT_BASE_URL
from .._errors import (
    ConnectionFailedError,
    CredentialsError,
    DingNotifyError,
    NotFoundError,
    ValidationError,
)
from .._polling import DeliveryTimeoutError
from .._recipients import (
    PlannedBatch,
    batch_count,
    check_userid,
    plan_batches,
    unique_dept_ids,
    unique_userids,
)
from .._version import __version__
from ..broadcast import Batch, BroadcastEvent, BroadcastReport
from ..messages import Markdown, Message, Text, encode_msg, message_from_dict
from ..models import SendProgress, SendResult

__all__ = [
    "DEFAULT_BASE_URL",
    "Batch",
    "BroadcastEvent",
    "BroadcastReport",
    "ConnectionFailedError",
    "CredentialsError",
    "DeliveryTimeoutError",
    "DingNotifyError",
    "DingTalkClient",
    "Markdown",
    "Message",
    "NotFoundError",
    "PlannedBatch",
    "SendProgress",
    "SendResult",
    "Text",
    "ValidationError",
    "__version__",
    "batch_count",
    "check_userid",
    "encode_msg",
    "message_from_dict",
    "plan_batches",
    "unique_dept_ids",
    "unique_userids",
]
