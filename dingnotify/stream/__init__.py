"""DingTalk's Stream mode, inbound: card clicks and events over one WebSocket.

``StreamClient`` keeps the connection (reconnects, heartbeat, backoff), acknowledges every
frame, drops redeliveries and runs your handlers with bounded concurrency: a card click's
handler returns a ``CardUpdate``, which updates the card at once.
"""

from ._client import StreamClient, StreamStats
from ._frames import CardAction, CardUpdate, StreamEvent

__all__ = ["CardAction", "CardUpdate", "StreamClient", "StreamEvent", "StreamStats"]
