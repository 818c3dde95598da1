"""Cross-domain IM messages (``impaas/message/crossdomain/send``), mirroring
``TopCrossDomainMessageSendModel``; ``content`` travels as a string holding JSON."""

from __future__ import annotations

from typing import Any

import msgspec

from .._errors import ValidationError


class _Model(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True):
    pass


def _nonempty(owner: str, **fields: object) -> None:
    for name, value in fields.items():
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{owner}.{name} is required: a non-empty string")


class SendMessageModel(_Model, frozen=True):
    """What to send where: ``content_type`` 1 = text, 2 = card."""

    conversation_type: int
    uuid: str
    content_type: int
    content: str | dict[str, Any]
    cid: str

    def __post_init__(self) -> None:
        _nonempty("send_message_model", uuid=self.uuid, cid=self.cid)
        if self.content_type not in (1, 2) or isinstance(self.content_type, bool):
            raise ValidationError("send_message_model.content_type must be 1 (text) or 2 (card)")
        if isinstance(self.conversation_type, bool) or not isinstance(self.conversation_type, int):
            raise ValidationError("send_message_model.conversation_type must be an int")
        content = self.content
        if isinstance(content, dict):
            content = msgspec.json.encode(content).decode()
        elif isinstance(content, str):
            try:
                msgspec.json.decode(content)
            except msgspec.DecodeError:
                raise ValidationError("send_message_model.content must be JSON text") from None
        else:
            raise ValidationError("send_message_model.content must be a dict or a JSON string")
        msgspec.structs.force_setattr(self, "content", content)


class MessageReceiverScope(_Model, frozen=True):
    actual_receivers: tuple[str, ...] | None = None


class CrossDomainMessage(_Model, frozen=True):
    """One cross-domain message; ``new_conversation_notification_off`` mutes a new chat."""

    sender: str
    message_id: str
    send_message_model: SendMessageModel
    message_receiver_scope_model: MessageReceiverScope | None = None
    new_conversation_notification_off: bool | None = None

    def __post_init__(self) -> None:
        _nonempty("crossdomain_message", sender=self.sender, message_id=self.message_id)
        if not isinstance(self.send_message_model, SendMessageModel):
            raise ValidationError("send_message_model must be a SendMessageModel")


_encoder = msgspec.json.Encoder()


def encode_crossdomain(message: CrossDomainMessage) -> bytes:
    """The request body: the model as a nested JSON object (the Java SDK's default form)."""
    if not isinstance(message, CrossDomainMessage):
        raise ValidationError("expected a CrossDomainMessage")
    inner = _encoder.encode(message)
    try:
        msgspec.json.decode(inner, type=CrossDomainMessage)
    except msgspec.ValidationError as exc:
        raise ValidationError(f"invalid cross-domain message: {exc}") from None
    return b'{"crossdomain_message_send_model":' + inner + b"}"
