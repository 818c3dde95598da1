"""Contacts: userid by mobile number."""

from __future__ import annotations

import msgspec

from .._api.oapi import OapiCaller
from .._constants import PATH_GET_BY_MOBILE, PATH_GET_BY_MOBILE_V2
from .._coordination import Priority
from .._errors import ResponseDecodeError, ValidationError
from .._retry import RetryPolicy
from ._models import MobileLookup
from ._wire import MobileResponse, MobileV2Response

_MOBILE_CHARS = frozenset("0123456789+- ")
_SEPARATORS = str.maketrans("", "", " -")
_MAINLAND = ("+86", "0086")


def check_mobile(mobile: object) -> str:
    """``mobile`` checked and written the way DingTalk's lookups match it.

    Spaces and hyphens are dropped, and a mainland China number written with its country
    code (``+86 138 0000 0001``, ``+8613800000001``, ``0086…``) becomes the 11-digit form
    (``13800000001``); ``138-0000-0003`` becomes ``13800000003``. A number with another
    country code keeps it, written ``+852-55550000`` (the ``+code-number`` form DingTalk
    documents) when it already has that hyphen, else without separators.
    """
    if not isinstance(mobile, str) or not mobile.strip():
        raise ValidationError("mobile must be a non-empty string")
    text = mobile.strip()
    if len(text) > 24 or not set(text) <= _MOBILE_CHARS or not any(c.isdigit() for c in text):
        raise ValidationError(f"not a mobile number: {text[:30]!r}")
    digits = text.translate(_SEPARATORS)
    if "+" in digits[1:] or len(digits) > 20 or len(digits) < 3:
        raise ValidationError(f"not a mobile number: {text[:30]!r}")
    for prefix in _MAINLAND:
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix):]
    if digits.startswith("+"):
        code, sep, rest = text[1:].partition("-")
        if sep and code.strip().isdigit():
            return f"+{code.strip()}-{rest.translate(_SEPARATORS)}"
    return digits


class Users:
    """``client.users``."""

    def __init__(self, api: OapiCaller) -> None:
        self._api = api

    async def get_by_mobile(
        self, mobile: str, *, timeout: float | None = None, retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> str:
        """The userid of the employee with this mobile (``GET /user/get_by_mobile``).

        Raises ``NotFoundError`` (errcode 60121) when nobody in the organisation has it.
        """
        envelope = await self._api.send(
            "GET", PATH_GET_BY_MOBILE, MobileResponse,
            query={"mobile": check_mobile(mobile)}, timeout=timeout, retry=retry,
            priority=priority,
        )
        if not envelope.userid:
            raise ResponseDecodeError(f"{PATH_GET_BY_MOBILE}: response has no userid")
        return envelope.userid

    async def get_by_mobile_v2(
        self, mobile: str, *, support_exclusive_account_search: bool = False,
        timeout: float | None = None, retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> MobileLookup:
        """``POST /topapi/v2/user/getbymobile``, which can also find exclusive accounts."""
        payload: dict[str, object] = {"mobile": check_mobile(mobile)}
        if support_exclusive_account_search:
            payload["support_exclusive_account_search"] = True
        envelope = await self._api.send(
            "POST", PATH_GET_BY_MOBILE_V2, MobileV2Response,
            body=msgspec.json.encode(payload), timeout=timeout, retry=retry,
            priority=priority,
        )
        if envelope.result is None:
            raise ResponseDecodeError(f"{PATH_GET_BY_MOBILE_V2}: response has no result")
        return MobileLookup(
            userid=envelope.result.userid,
            exclusive_account_userids=envelope.result.exclusive_account_userid_list,
        )
