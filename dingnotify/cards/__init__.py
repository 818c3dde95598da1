"""Interactive cards on DingTalk's new-generation API (``client.cards``).

``Cards`` delivers a card (``deliver``), changes it in place (``update``), types into it
(``streaming``) and sends one card per few users to any number of them (``broadcast``).
Clicks come back through ``dingnotify.stream``. ``card_param_map`` is the string-only
conversion every card data map goes through.
"""

from ._models import CardDelivery, CardTemplateError
from ._params import card_param_map
from ._report import CardBroadcastReport
from ._resource import CARD_API, CARD_QPS, SPACES_PER_CARD, Cards, new_out_track_id
from ._streaming import MAX_STREAM_BYTES, STREAM_INTERVAL, CardStream

__all__ = [
    "CARD_API",
    "CARD_QPS",
    "MAX_STREAM_BYTES",
    "SPACES_PER_CARD",
    "STREAM_INTERVAL",
    "CardBroadcastReport",
    "CardDelivery",
    "CardStream",
    "CardTemplateError",
    "Cards",
    "card_param_map",
    "new_out_track_id",
]
