"""User API answers as DingTalk sends them."""

from __future__ import annotations

import msgspec

from .._api.oapi_wire import Envelope


class MobileResponse(Envelope):
    userid: str | None = None


class MobileV2Result(msgspec.Struct, kw_only=True):
    userid: str
    exclusive_account_userid_list: list[str] = msgspec.field(default_factory=list)


class MobileV2Response(Envelope):
    result: MobileV2Result | None = None
