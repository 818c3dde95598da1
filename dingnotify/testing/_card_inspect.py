"""The cards part of ``Emulator``'s surface: templates, cards, what each user sees."""

from __future__ import annotations

from collections.abc import Iterable

from ._card_state import CardInstance, CardState, CardTemplate


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
