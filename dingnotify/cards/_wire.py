"""The card API's raw answers and their decoders (built once).

Success is ``{"success": true, "result": ...}``; ``createAndDeliver`` nests its per-space
results in ``result.deliverResults``. A 2xx answer whose ``success`` is not true, or that is
not JSON, raises ``ResponseDecodeError`` naming the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from .._errors import ResponseDecodeError
from ._models import CardDelivery

NO_ANSWER = "DingTalk's answer named no result for this space"


class _Answer(msgspec.Struct, kw_only=True, rename="camel"):
    pass


class SpaceResult(_Answer):
    space_type: str | None = None
    space_id: str | None = None
    success: bool | None = None
    carrier_id: str | None = None
    error_msg: str | None = None


class _Delivered(_Answer):
    out_track_id: str | None = None
    deliver_results: list[SpaceResult] | None = None


class _Envelope(_Answer):
    success: bool | None = None
    result: Any = None


class _DeliverEnvelope(_Answer):
    success: bool | None = None
    result: _Delivered | None = None


_envelope = msgspec.json.Decoder(_Envelope, strict=False)
_deliver = msgspec.json.Decoder(_DeliverEnvelope, strict=False)


def decode_ok(body: bytes, where: str) -> None:
    """An answer that carries nothing but ``success``."""
    try:
        answer = _envelope.decode(body)
    except msgspec.DecodeError as exc:
        raise ResponseDecodeError(f"{where}: undecodable response ({exc})") from None
    if answer.success is not True:
        raise ResponseDecodeError(f"{where}: answer without success=true")


def decode_delivered(body: bytes) -> list[SpaceResult]:
    where = "card/instances/createAndDeliver"
    try:
        answer = _deliver.decode(body)
    except msgspec.DecodeError as exc:
        raise ResponseDecodeError(f"{where}: undecodable response ({exc})") from None
    if answer.success is not True or answer.result is None:
        raise ResponseDecodeError(f"{where}: answer without success=true and a result")
    return answer.result.deliver_results or []


def delivery(out_track_id: str, spaces: Sequence[tuple[str, str]],
             results: Sequence[SpaceResult]) -> CardDelivery:
    """Every space of the call delivered or failed, read from the per-space results.

    Results are matched by ``spaceId``; if none matches but there is one per space,
    they are read in request order (DingTalk does not promise which id a robot chat's
    result names). A space no result names is failed with ``NO_ANSWER``.
    """
    by_id = {r.space_id: r for r in results if r.space_id}
    if not any(ident in by_id for _, ident in spaces) and len(results) == len(spaces):
        by_id = {ident: r for (_, ident), r in zip(spaces, results, strict=True)}
    delivered: list[str] = []
    failed: dict[str, str] = {}
    keys: dict[str, str] = {}
    for _, ident in spaces:
        result = by_id.get(ident)
        if result is None:
            failed[ident] = NO_ANSWER
        elif result.success:
            delivered.append(ident)
            if result.carrier_id:
                keys[ident] = result.carrier_id
        else:
            failed[ident] = result.error_msg or "delivery failed"
    return CardDelivery(out_track_id=out_track_id, delivered=delivered, failed=failed,
                        process_query_keys=keys)
