"""What the robot API answers, as the client hands it back (snake_case, lists never None)."""

from __future__ import annotations

import msgspec


class RobotSendResult(msgspec.Struct, kw_only=True, frozen=True):
    """One ``oToMessages/batchSend`` call.

    ``throttled_userids`` (DingTalk's ``flowControlledStaffIdList``) were *not* sent and may be
    retried later; ``invalid_userids`` are not in the organisation; ``filtered_userids`` were
    dropped by DingTalk's own filtering. Everyone else was sent the message.
    """

    process_query_key: str
    invalid_userids: list[str] = msgspec.field(default_factory=list)
    throttled_userids: list[str] = msgspec.field(default_factory=list)
    filtered_userids: list[str] = msgspec.field(default_factory=list)


class RobotReadStatus(msgspec.Struct, kw_only=True, frozen=True):
    """``oToMessages/readStatus``: ``send_status`` is ``SUCCESS``, ``RECALLED`` or
    ``PROCESSING`` (passed through as DingTalk spells it); users split by ``readStatus``.

    ``read_timestamps`` maps a reader's userid to when it read the message (DingTalk's
    ``readTimestamp``, epoch milliseconds); readers the answer gave no time for are left out.
    """

    send_status: str
    read_userids: list[str] = msgspec.field(default_factory=list)
    unread_userids: list[str] = msgspec.field(default_factory=list)
    read_timestamps: dict[str, int] = msgspec.field(default_factory=dict)


class RobotRecallResult(msgspec.Struct, kw_only=True, frozen=True):
    """``otoMessages/batchRecall``: keys recalled, and the reason per key that was not."""

    recalled: list[str] = msgspec.field(default_factory=list)
    failed: dict[str, str] = msgspec.field(default_factory=dict)
