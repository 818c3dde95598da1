"""Card server state: templates, instances keyed by ``outTrackId``, deliveries, views.

One ``outTrackId`` is one card, ever: ``createAndDeliver`` on an existing one answers 400
``param.cardAlreadyExist`` (``existing_card="error"``, the default) or, with
``existing_card="noop"``, success with the first delivery's results and nothing changed
(DingTalk's page allows both readings). A user sees the public map overlaid with their own
private map (``view``). Each space of a delivery succeeds or fails on its own: a robot chat
with a user who is not in the organisation, or a space in ``fail_spaces``, fails with a
reason while the others are delivered (partial success at HTTP 200).
"""

from __future__ import annotations

import base64
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from ._card_wire import card_error

ExistingCard = Literal["error", "noop"]


@dataclass(slots=True)
class CardTemplate:
    """A template of the card platform: its variables and whether it is published."""

    template_id: str
    keys: frozenset[str]
    published: bool = True


@dataclass
class CardInstance:
    """One card: its data, per-user data, where it went and how its streams stand."""

    out_track_id: str
    app_key: str
    template_id: str
    public: dict[str, str]
    private: dict[str, dict[str, str]]
    callback_type: str | None
    route_key: str | None
    user_id_type: int
    results: list[dict[str, Any]] = field(default_factory=list)
    updates: int = 0
    streams: dict[str, str] = field(default_factory=dict)
    stream_state: dict[str, str] = field(default_factory=dict)
    stream_calls: int = 0
    guids: set[str] = field(default_factory=set)

    @property
    def delivered_to(self) -> list[tuple[str, str]]:
        """``(spaceType, spaceId)`` of every space the card reached."""
        return [(r["spaceType"], r["spaceId"]) for r in self.results if r["success"]]


class CardState:
    """Everything the card handlers read or change (``emu.cards``)."""

    def __init__(self, users: dict[str, Any], seed: int) -> None:
        self.users = users
        self.templates: dict[str, CardTemplate] = {}
        self.cards: dict[str, CardInstance] = {}
        self.fail_spaces: dict[str, str] = {}
        """spaceId -> the ``errorMsg`` its delivery fails with."""
        self.denied: set[str] = set()
        """Permissions the app lacks (``Card.Instance.Write``, ``Card.Streaming.Write``)."""
        self.unsafe: set[str] = set()
        """Values that fail content moderation (``param.contentUnsafe``)."""
        self.existing_card: ExistingCard = "error"
        self.check_sizes = True
        self.max_spaces: int | None = 100
        self.streaming_qps: int | None = None
        """Streaming writes a second per card's app before HTTP 429 (a figure DingTalk
        staff gave as 50; off by default, the per-API 403 applies regardless)."""
        self._stream_times: deque[float] = deque()
        self.calls: Counter[str] = Counter()
        self._rng = random.Random(f"cards:{seed}")

    def add_template(self, template_id: str, keys: list[str] | frozenset[str] | set[str],
                     *, published: bool = True) -> CardTemplate:
        template = CardTemplate(template_id, frozenset(keys), published)
        self.templates[template_id] = template
        return template

    def template(self, template_id: str) -> CardTemplate:
        template = self.templates.get(template_id)
        if template is None:
            raise card_error("param.templateNotExist")
        if not template.published:
            raise card_error("param.templateUnpublished")
        return template

    def card(self, out_track_id: str) -> CardInstance:
        card = self.cards.get(out_track_id)
        if card is None:
            raise card_error("param.cardNotExist")
        return card

    def moderate(self, *maps: dict[str, str]) -> None:
        if self.unsafe and any(v in self.unsafe for m in maps for v in m.values()):
            raise card_error("param.contentUnsafe")

    def create(self, card: CardInstance) -> CardInstance | None:
        """Store a new card; the existing one (noop mode) or an error if the id is taken."""
        existing = self.cards.get(card.out_track_id)
        if existing is not None:
            if self.existing_card == "error":
                raise card_error("param.cardAlreadyExist")
            return existing
        self.cards[card.out_track_id] = card
        return None

    def deliver(self, card: CardInstance, targets: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """One result per space, each delivered or failed with a reason."""
        results = []
        for kind, ident in targets:
            reason = self.fail_spaces.get(ident)
            if reason is None and kind == "IM_ROBOT" and card.user_id_type == 1 \
                    and ident not in self.users:
                reason = "userId not exist"
            result: dict[str, Any] = {"spaceType": kind, "spaceId": ident,
                                      "success": reason is None}
            if reason is None:
                result["carrierId"] = self._carrier()
            else:
                result["errorMsg"] = reason
            results.append(result)
        card.results.extend(results)
        return results

    def _carrier(self) -> str:
        return base64.b64encode(self._rng.getrandbits(192).to_bytes(24, "big")).decode()

    def update(self, card: CardInstance, public: dict[str, str] | None,
               private: dict[str, dict[str, str]], merge_public: bool,
               merge_private: bool) -> None:
        """Merge by key, or overwrite the whole map (DingTalk's default)."""
        if public is not None:
            card.public = {**card.public, **public} if merge_public else dict(public)
        for uid, values in private.items():
            mine = card.private.get(uid, {})
            card.private[uid] = {**mine, **values} if merge_private else dict(values)
        card.updates += 1

    def view(self, out_track_id: str, userid: str) -> dict[str, str]:
        """What ``userid`` sees: the public map overlaid with their private map."""
        card = self.card(out_track_id)
        return {**card.public, **card.private.get(userid, {})}

    def streaming_allowed(self, now: float) -> bool:
        """One more streaming write within ``streaming_qps`` (the write is counted)."""
        if self.streaming_qps is None:
            return True
        times = self._stream_times
        while times and times[0] <= now - 1.0:
            times.popleft()
        if len(times) >= self.streaming_qps:
            return False
        times.append(now)
        return True

    def stream(self, card: CardInstance, guid: str, key: str, content: str, *, full: bool,
               finalize: bool, error: bool) -> None:
        """One streaming write; a repeated ``guid`` changes nothing."""
        if guid in card.guids:
            return
        card.guids.add(guid)
        card.stream_calls += 1
        card.streams[key] = content if full else card.streams.get(key, "") + content
        card.stream_state[key] = "failed" if error else "finished" if finalize else "inputting"
