"""What the card API answers, as the client hands it back."""

from __future__ import annotations

import msgspec

from .._errors import InvalidArgumentError


class CardDelivery(msgspec.Struct, kw_only=True, frozen=True):
    """One card delivered: every recipient (userid, or the group's open conversation id)
    is in ``delivered`` or ``failed`` (recipient -> DingTalk's reason).

    ``process_query_keys`` maps a delivered recipient to its message's ``carrierId``
    (DingTalk gives one for chat spaces). ``existed`` is True when DingTalk already had a
    card of this ``out_track_id``: an earlier attempt or run made it, so nothing was sent
    twice; that first answer is not known here, and its recipients are counted delivered.
    """

    out_track_id: str
    delivered: list[str] = msgspec.field(default_factory=list)
    failed: dict[str, str] = msgspec.field(default_factory=dict)
    process_query_keys: dict[str, str] = msgspec.field(default_factory=dict)
    existed: bool = False


class CardTemplateError(InvalidArgumentError):
    """The card template does not exist or is not published (``param.templateNotExist``,
    ``param.templateUnpublished``): no retry helps until the template is published."""
