"""Cross-domain IM message models (they live in ``dingnotify.impaas``)."""

from .impaas._messages import (
    CrossDomainMessage,
    MessageReceiverScope,
    SendMessageModel,
    encode_crossdomain,
)

__all__ = ["CrossDomainMessage", "MessageReceiverScope", "SendMessageModel", "encode_crossdomain"]
