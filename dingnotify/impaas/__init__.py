"""IM PaaS (``client.impaas``): cross-domain message send."""

from ._messages import (
    CrossDomainMessage,
    MessageReceiverScope,
    SendMessageModel,
    encode_crossdomain,
)
from ._resource import Impaas

__all__ = [
    "CrossDomainMessage",
    "Impaas",
    "MessageReceiverScope",
    "SendMessageModel",
    "encode_crossdomain",
]
