"""Work notifications (``client.work_notice``): send, progress, result, recall, status bar,
and the fan-outs built on them (broadcast, wait, recall_all).

    _messages    the message types (``Text``, ``Markdown``, ``OA``, ...), encoded once
    _body        the asyncsend_v2 body: the message encoded once, recipients spliced in
    _wire        DingTalk's answers, and the send result they carry
    _models      the typed results (``SendProgress``, ``SendResult``)
    _delivery    ``Delivery``: a broadcast followed to the end, throttled recipients re-sent
    _tasks       task ids checked, and the tasks of a report to confirm
    _resource    ``WorkNotice``, on the oapi family
"""

from ._body import SEND_API, SendBody, check_agent_id
from ._delivery import Delivery, ResendHook
from ._messages import (
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
from ._models import ForbiddenRecord, SendProgress, SendResult
from ._resource import WorkNotice
from ._tasks import check_task_id
from ._wire import parse_send_result

__all__ = [
    "OA",
    "SEND_API",
    "ActionCard",
    "ActionCardButton",
    "Delivery",
    "File",
    "ForbiddenRecord",
    "Image",
    "Link",
    "Markdown",
    "Message",
    "OABody",
    "OAFormItem",
    "OAHead",
    "OARich",
    "OAStatusBar",
    "ResendHook",
    "SendBody",
    "SendProgress",
    "SendResult",
    "Text",
    "Voice",
    "WorkNotice",
    "check_agent_id",
    "check_task_id",
    "encode_msg",
    "message_from_dict",
    "parse_send_result",
]
