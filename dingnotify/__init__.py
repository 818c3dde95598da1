"""dingnotify: deliver notifications to DingTalk from asyncio code.

    async with DingTalkClient(app_key, app_secret, agent_id=123) as client:
        task_id = await client.work_notice.send(Text(content="hi"), userids=["u1"])
"""

from ._client import DingTalkClient
from ._errors import (
    ConnectionFailedError,
    CredentialsError,
    DingNotifyError,
    DingTalkError,
    HTTPStatusError,
    InvalidArgumentError,
    MessageTooLargeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseDecodeError,
    ServerBusyError,
    TokenError,
    TopBusinessError,
    TopError,
    TransportError,
    ValidationError,
)
from ._retry import RetryPolicy
from ._token import MemoryTokenStore, TokenStore
from .crossdomain import CrossDomainMessage, MessageReceiverScope, SendMessageModel
from .messages import (
    OA,
    ActionCard,
    ActionCardButton,
    File,
    Image,
    Link,
    Markdown,
    Message,
    OABody,
    OAFormItem,
    OAHead,
    OARich,
    OAStatusBar,
    Text,
    Voice,
    encode_msg,
    message_from_dict,
)
from .models import ForbiddenRecord, MediaUpload, MobileLookup, SendProgress, SendResult
from .top import ContentType, LippiResult, LyDingOpenPara, LyOpenMessage, TopClient

from ._version import __version__

__all__ = [
    "OA",
    "ActionCard",
    "ActionCardButton",
    "ConnectionFailedError",
    "ContentType",
    "CredentialsError",
    "CrossDomainMessage",
    "DingNotifyError",
    "DingTalkClient",
    "DingTalkError",
    "File",
    "ForbiddenRecord",
    "HTTPStatusError",
    "Image",
    "InvalidArgumentError",
    "Link",
    "LippiResult",
    "LyDingOpenPara",
    "LyOpenMessage",
    "Markdown",
    "MediaUpload",
    "MemoryTokenStore",
    "Message",
    "MessageReceiverScope",
    "MessageTooLargeError",
    "MobileLookup",
    "NotFoundError",
    "OABody",
    "OAFormItem",
    "OAHead",
    "OARich",
    "OAStatusBar",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "RetryPolicy",
    "SendMessageModel",
    "SendProgress",
    "SendResult",
    "ServerBusyError",
    "Text",
    "TokenError",
    "TokenStore",
    "TopBusinessError",
    "TopClient",
    "TopError",
    "TransportError",
    "ValidationError",
    "Voice",
    "__version__",
    "encode_msg",
    "message_from_dict",
]
