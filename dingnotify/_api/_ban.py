"""DingTalk's per-IP ban page, which any family's endpoint may answer instead of its own."""

from __future__ import annotations

import re

import msgspec

from .._constants import IP_BAN_SECONDS
from .._errors import IP_BAN_STATUS, IPBannedError


class BanPage(msgspec.Struct):
    """``{"status":1111,"wait":5,"punish":"deny",...}``."""

    status: int | None = None
    wait: float | None = None
    punish: str | None = None


_ban_decoder = msgspec.json.Decoder(BanPage, strict=False)
_BAN_HTML_WAIT = re.compile(rb"(?i)wait\D{0,20}(\d{1,5})")


def ban_wait(body: bytes) -> float | None:
    """Seconds to stay away when ``body`` is the per-IP ban page (JSON or HTML), else None.

    An HTML ban page that names no wait gets DingTalk's documented ban length.
    """
    if body[:1] == b"{":
        try:
            page = _ban_decoder.decode(body)
        except msgspec.DecodeError:
            return None
        if page.status == IP_BAN_STATUS or page.punish == "deny":
            return max(0.0, page.wait if page.wait is not None else IP_BAN_SECONDS)
        return None
    if b"<" in body[:64] and (b"punish" in body or b"x5sec" in body or b"deny" in body):
        found = _BAN_HTML_WAIT.search(body)
        return float(found.group(1)) if found else IP_BAN_SECONDS
    return None


def banned(body: bytes, path: str) -> IPBannedError | None:
    """The error for ``body`` when it is the per-IP ban page (``path`` names the call)."""
    wait = ban_wait(body)
    return None if wait is None else IPBannedError(wait, path=path)
