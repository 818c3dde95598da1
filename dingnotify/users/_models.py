"""Typed results of the user API."""

from __future__ import annotations

import msgspec


class MobileLookup(msgspec.Struct, frozen=True, kw_only=True):
    """``topapi/v2/user/getbymobile``."""

    userid: str
    exclusive_account_userids: list[str] = msgspec.field(default_factory=list)
