"""Enterprise robot messages on DingTalk's new-generation API: templates and result models.

Templates are frozen Structs named after DingTalk's ``msgKey``; ``encode_msg_param`` gives
the JSON string that goes into ``msgParam``.
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

__all__ = [
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
