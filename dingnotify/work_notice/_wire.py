"""Work-notification answers as DingTalk sends them, and the send result they carry."""

from __future__ import annotations

from collections.abc import Collection

import msgspec

from .._api.oapi_wire import Envelope
from .._errors import ResponseDecodeError
from ._models import ForbiddenRecord, SendResult


class SendResponse(Envelope):
    task_id: int | None = None


class Progress(msgspec.Struct, kw_only=True):
    progress_in_percent: int = 0
    status: int = 0


class ProgressResponse(Envelope):
    progress: Progress | None = None


StrList = list[str | int] | str | None


class ForbiddenItem(msgspec.Struct, kw_only=True):
    userid: str | int | None = None
    code: str | int | None = None
    count: int | None = None


class RawSendResult(msgspec.Struct, kw_only=True):
    invalid_user_id_list: StrList = None
    forbidden_user_id_list: StrList = None
    failed_user_id_list: StrList = None
    read_user_id_list: StrList = None
    unread_user_id_list: StrList = None
    invalid_dept_id_list: StrList = None
    forbidden_list: list[ForbiddenItem] | None = None


class ResultResponse(Envelope):
    send_result: RawSendResult | None = None


def split_list(value: StrList) -> list[str]:
    """A DingTalk id list that may be a JSON array or a comma string (older answers)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(item) for item in value]


def parse_send_result(raw: RawSendResult | None, flow_control_codes: Collection[str]) -> SendResult:
    """Accept both the live array form and the older comma strings; split flow-controlled
    recipients (by their ``forbidden_list`` code) from the other forbidden ones."""
    if raw is None:
        return SendResult()
    depts: list[int] = []
    for item in split_list(raw.invalid_dept_id_list):
        try:
            depts.append(int(item))
        except ValueError:
            raise ResponseDecodeError(f"invalid_dept_id_list holds {item!r}") from None
    records = [
        ForbiddenRecord(userid=None if f.userid is None else str(f.userid),
                        code=None if f.code is None else str(f.code), count=f.count or 0)
        for f in raw.forbidden_list or ()
    ]
    throttled = {r.userid for r in records if r.code in flow_control_codes and r.userid}
    forbidden = split_list(raw.forbidden_user_id_list)
    for record in records:  # a record may name a user the plain list left out
        if record.userid and record.userid not in forbidden:
            forbidden.append(record.userid)
    return SendResult(
        invalid_userids=split_list(raw.invalid_user_id_list),
        forbidden_userids=[u for u in forbidden if u not in throttled],
        throttled_userids=[u for u in forbidden if u in throttled],
        failed_userids=split_list(raw.failed_user_id_list),
        read_userids=split_list(raw.read_user_id_list),
        unread_userids=split_list(raw.unread_user_id_list),
        invalid_dept_ids=depts,
        forbidden=records,
    )
