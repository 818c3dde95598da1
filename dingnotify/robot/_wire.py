"""The robot API's raw answers and their decoders (built once).

Every field is optional on input, and ``null`` counts as absent: a missing list is an empty
one, so a terse or older answer decodes instead of failing. A body that is not JSON, or has a
field of the wrong type, raises ``ResponseDecodeError`` naming the call.

``readStatus`` is ``"READ"`` for a read message; any other value (DingTalk's ``"UNREAD"``,
or one we do not know) counts as unread, so a new status is never reported as read.
``readTimestamp`` (epoch ms, a Long in the official SDK's model) is kept for readers only.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from .._errors import ResponseDecodeError
from ._models import RobotReadStatus, RobotRecallResult, RobotSendResult

READ = "READ"
UNREAD = "UNREAD"

_Ids = list[str] | None


class _Answer(msgspec.Struct, kw_only=True, rename="camel"):
    """Base: wire keys are camelCase forms of the attribute names."""


class _SendAnswer(_Answer):
    process_query_key: str | None = None
    invalid_staff_id_list: _Ids = None
    flow_controlled_staff_id_list: _Ids = None
    filtered_staff_id_list: _Ids = None


class _ReadInfo(_Answer):
    name: str | None = None
    user_id: str | None = None
    read_status: str | None = None
    read_timestamp: int | None = None


class _ReadAnswer(_Answer):
    send_status: str | None = None
    message_read_info_list: list[_ReadInfo] | None = None


class _RecallAnswer(_Answer):
    success_result: _Ids = None
    failed_result: dict[str, str] | None = None


A = TypeVar("A", bound=_Answer)
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {
    kind: msgspec.json.Decoder(kind, strict=False)
    for kind in (_SendAnswer, _ReadAnswer, _RecallAnswer)
}


def _decode(body: bytes, kind: type[A], where: str) -> A:
    try:
        answer: A = _decoders[kind].decode(body)
    except msgspec.DecodeError as exc:
        raise ResponseDecodeError(f"{where}: undecodable response ({exc})") from None
    return answer


def decode_send(body: bytes) -> RobotSendResult:
    raw = _decode(body, _SendAnswer, "robot/oToMessages/batchSend")
    return RobotSendResult(
        process_query_key=raw.process_query_key or "",
        invalid_userids=raw.invalid_staff_id_list or [],
        throttled_userids=raw.flow_controlled_staff_id_list or [],
        filtered_userids=raw.filtered_staff_id_list or [],
    )


def decode_group_send(body: bytes) -> str:
    """The ``processQueryKey`` of a group message ("" if DingTalk left it out)."""
    return _decode(body, _SendAnswer, "robot/groupMessages/send").process_query_key or ""


def decode_read_status(body: bytes) -> RobotReadStatus:
    raw = _decode(body, _ReadAnswer, "robot/oToMessages/readStatus")
    read: list[str] = []
    unread: list[str] = []
    read_at: dict[str, int] = {}
    for info in raw.message_read_info_list or ():
        if not info.user_id:
            continue
        if info.read_status == READ:
            read.append(info.user_id)
            if info.read_timestamp is not None:
                read_at[info.user_id] = info.read_timestamp
        else:
            unread.append(info.user_id)
    return RobotReadStatus(send_status=raw.send_status or "", read_userids=read,
                           unread_userids=unread, read_timestamps=read_at)


def decode_recall(body: bytes) -> RobotRecallResult:
    raw = _decode(body, _RecallAnswer, "robot/otoMessages/batchRecall")
    return RobotRecallResult(recalled=raw.success_result or [], failed=raw.failed_result or {})
