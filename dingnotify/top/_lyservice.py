"""``alibaba.lyservice.lippi.message.send``: a customer sends a DingTalk message
to customer service, proxied to ``dingtalk.oapi.customerservice.message.send``."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

import msgspec

from .._coordination import Priority
from .._errors import ResponseDecodeError, TopBusinessError, ValidationError
from .._retry import RetryPolicy

if TYPE_CHECKING:
    from ._gateway import TopClient

LIPPI_METHOD = "alibaba.lyservice.lippi.message.send"


class LippiContentType(IntEnum):
    """``content_type`` of a lippi message."""

    TEXT = 1
    IMAGE = 2
    VIDEO = 3
    LINK = 4
    VOICE = 5
    MARK_DOWN = 6
    MARKDOWN = 6
    ACTION_CARD = 7
    RICH_TEXT = 8
    FILE = 9
    MSG_READ = 10


class _Dto(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True):
    pass


def _types(owner: str, kind: type, **fields: object) -> None:
    for name, value in fields.items():
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise ValidationError(f"{owner}.{name} must be {kind.__name__}")


class LyDingOpenPara(_Dto, frozen=True):
    """Who is calling: a corp with its own token (0) or an ISV on its behalf (1)."""

    isv_org_id: int | None = None
    corp_id: str | None = None
    token_grant_type: int | None = None
    suite_key: str | None = None
    org_id: int | None = None

    def __post_init__(self) -> None:
        _types("ly_ding_open_para", int, isv_org_id=self.isv_org_id, org_id=self.org_id,
               token_grant_type=self.token_grant_type)
        _types("ly_ding_open_para", str, corp_id=self.corp_id, suite_key=self.suite_key)
        if self.token_grant_type not in (None, 0, 1):
            raise ValidationError("token_grant_type is 0 (corp) or 1 (ISV)")


class LyOpenMessage(_Dto, frozen=True):
    """The message; ``content_type`` is a ``LippiContentType``."""

    message_id: str
    content: str
    sid: str
    session_source: str
    content_type: int
    bu_id: str
    cms_id: str | None = None
    ding_corp_id: str | None = None
    production_type: int | None = None
    sender_id: str | None = None
    message_create_at: int | None = None
    open_instance_id: str | None = None
    sender_type: str | None = None

    def __post_init__(self) -> None:
        for name in ("message_id", "content", "sid", "session_source", "bu_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"ly_open_message.{name} is required: a non-empty string")
        try:
            kind = LippiContentType(self.content_type)
        except ValueError:
            raise ValidationError("ly_open_message.content_type must be 1..10") from None
        if isinstance(self.content_type, bool):
            raise ValidationError("ly_open_message.content_type must be 1..10")
        msgspec.structs.force_setattr(self, "content_type", int(kind))
        _types("ly_open_message", str, cms_id=self.cms_id, ding_corp_id=self.ding_corp_id,
               sender_id=self.sender_id, open_instance_id=self.open_instance_id,
               sender_type=self.sender_type)
        _types("ly_open_message", int, production_type=self.production_type,
               message_create_at=self.message_create_at)
        if self.production_type not in (None, 1, 1001):
            raise ValidationError("production_type is 1 or 1001")
        if self.sender_type not in (None, "1", "4"):
            raise ValidationError('sender_type is "4" (agent) or "1" (member)')


class LippiResult(msgspec.Struct, frozen=True, kw_only=True):
    success: bool
    code: str | None = None
    msg: str | None = None
    data: str | None = None
    request_id: str | None = None


class LyService:
    """``top.lyservice``: the lippi customer-service message API."""

    def __init__(self, top: TopClient) -> None:
        self._top = top

    async def send_lippi_message(
        self, *, para: LyDingOpenPara, message: LyOpenMessage, timeout: float | None = None,
        retry: RetryPolicy | None = None, priority: Priority = "interactive",
    ) -> LippiResult:
        """Send; a ``success: false`` answer raises ``TopBusinessError`` with its code."""
        if not isinstance(para, LyDingOpenPara) or not isinstance(message, LyOpenMessage):
            raise ValidationError("para must be a LyDingOpenPara and message a LyOpenMessage")
        body = await self._top.execute(
            LIPPI_METHOD, {"ly_ding_open_para_dto": para, "ly_open_message_dto": message},
            timeout=timeout, retry=retry, priority=priority)
        raw = body.get("result")
        if not isinstance(raw, dict) or not isinstance(raw.get("success"), bool):
            raise ResponseDecodeError(f"{LIPPI_METHOD}: response has no result.success")
        result = LippiResult(
            success=raw["success"],
            code=None if raw.get("code") is None else str(raw["code"]),
            msg=None if raw.get("msg") is None else str(raw["msg"]),
            data=None if raw.get("data") is None else str(raw["data"]),
            request_id=body.get("request_id"),
        )
        if not result.success:
            raise TopBusinessError(result.code, result.msg, result.data, result.request_id)
        return result
