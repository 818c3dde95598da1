"""The cards part of ``Emulator``'s surface: templates, cards, what each user sees."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from ._card_state import CardInstance, CardState, CardTemplate
from ._gateway import Gateway, Pushed
from ._org import Org


class CardInspection:
    """Mixed into ``Emulator``: ``emu.cards`` (the state) and its shortcuts."""

    _cards: CardState

    @property
    def cards(self) -> CardState:
        """Card state: ``templates``, ``cards``, ``fail_spaces``, ``denied``, ``unsafe``,
        ``existing_card``, ``check_sizes``, ``max_spaces``, ``calls``."""
        return self._cards

    def add_card_template(self, template_id: str, keys: Iterable[str], *,
                          published: bool = True) -> CardTemplate:
        """Declare a card template with variables ``keys`` (unpublished: create calls
        answer ``param.templateUnpublished``)."""
        return self._cards.add_template(template_id, frozenset(keys), published=published)

    def card(self, out_track_id: str) -> CardInstance:
        """The card of ``out_track_id`` (``KeyError`` if there is none)."""
        return self._cards.cards[out_track_id]

    def card_view(self, out_track_id: str, userid: str) -> dict[str, str]:
        """What ``userid`` sees on the card: public data overlaid with their private data."""
        card = self._cards.cards[out_track_id]
        return {**card.public, **card.private.get(userid, {})}


class StreamInspection:
    """Mixed into ``Emulator``: the Stream-mode gateway and the pushes tests make."""

    _gateway: Gateway
    org: Org

    @property
    def gateway(self) -> Gateway:
        """Stream gateway: ``connections``, ``callbacks``, ``acks``, ``disconnect()``,
        ``go_silent()`` and the timing knobs (``ping_interval``, ``redeliver_after``...)."""
        return self._gateway

    async def click(self, out_track_id: str, userid: str, action_id: str,
                    params: Mapping[str, Any] | None = None, *, app_key: str | None = None,
                    timeout: float = 30.0) -> dict[str, Any] | None:
        """``userid`` clicks ``action_id`` on the card: the callback is pushed (again
        until acked) and the application's response comes back (None if it sent none or
        answered with an error; ``emu.gateway.callbacks`` records each click)."""
        record = await self._gateway.click(app_key or self.org.app.app_key, out_track_id,
                                           userid, action_id, dict(params or {}), timeout)
        return record.response if record.code == 200 else None

    async def push_event(self, event_type: str, data: Mapping[str, Any], *,
                         app_key: str | None = None, timeout: float = 30.0) -> Pushed:
        """Push one EVENT (``eventType`` header ``event_type``) until it is acked."""
        gateway = self._gateway
        extra = {"eventType": event_type, "eventId": uuid.uuid4().hex,
                 "eventCorpId": gateway.corp_id, "eventBornTime": str(int(time.time() * 1000)),
                 "eventUnifiedAppId": app_key or self.org.app.app_key}
        return await gateway.push(app_key or self.org.app.app_key, "EVENT", event_type,
                                  dict(data), extra, timeout)
