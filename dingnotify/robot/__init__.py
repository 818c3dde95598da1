"""Enterprise robot messages on DingTalk's new-generation API (``client.robot``).

Templates are frozen Structs named after DingTalk's ``msgKey``; ``encode_msg_param`` gives
the JSON string that goes into ``msgParam``. ``Robot`` is the resource behind
``client.robot``: ``send``, ``broadcast``, ``send_to_group``, ``read_status``, ``recall``.
"""

from ._messages import (
    RobotMessage,
    SampleActionCard,
    SampleActionCard2,
    SampleActionCard3,
    SampleActionCard4,
    SampleActionCard5,
    SampleAudio,
    SampleFile,
    SampleImageMsg,
    SampleLink,
    SampleMarkdown,
    SampleText,
    SampleVideo,
    encode_msg_param,
    msg_key,
)
from ._models import RobotReadStatus, RobotRecallResult, RobotSendResult
from ._report import RobotBroadcastReport
from ._resource import MAX_USERIDS, NO_ANSWER, Robot

__all__ = [
    "MAX_USERIDS",
    "NO_ANSWER",
    "Robot",
    "RobotBroadcastReport",
    "RobotMessage",
    "RobotReadStatus",
    "RobotRecallResult",
    "RobotSendResult",
    "SampleActionCard",
    "SampleActionCard2",
    "SampleActionCard3",
    "SampleActionCard4",
    "SampleActionCard5",
    "SampleAudio",
    "SampleFile",
    "SampleImageMsg",
    "SampleLink",
    "SampleMarkdown",
    "SampleText",
    "SampleVideo",
    "encode_msg_param",
    "msg_key",
]
