"""``client.cards``: interactive cards on the new-generation API (``/v1.0/card/*``)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal, TypeVar

import msgspec

from .._api import Call
from .._api.v1 import V1Caller
from .._constants import DEFAULT_CONCURRENCY
from .._coordination import Priority
from .._errors import InvalidArgumentError, ValidationError
from .._recipients import BatchPlanner, UserIdStream
from .._retry import RetryHook, RetryPolicy
from ..broadcast import AttemptHook, Batch, EventHook, run_broadcast
from ._models import CardDelivery, CardTemplateError
from ._params import card_param_map, open_space_id, private_param_maps, space_ids
from ._report import CardBroadcastReport
from ._streaming import MAX_STREAM_BYTES, STREAM_INTERVAL, CardStream
from ._wire import decode_delivered, decode_ok, delivery

T = TypeVar("T")
PATH_DELIVER = "/v1.0/card/instances/createAndDeliver"
PATH_UPDATE = "/v1.0/card/instances"
PATH_STREAMING = "/v1.0/card/streaming"
CARD_API = "/v1.0/card"
"""The one governor budget every card call draws on (DingTalk publishes no card QPS)."""
CARD_QPS = 10
"""Card calls a second per app, all card APIs together: the reference's cautious default
(the per-API rule allows 20 on the standard edition, and the streaming API is reported to
answer QPS-limited well before that). Raise it with ``Cards.qps`` on a larger edition."""
SPACES_PER_CARD = 10
"""Spaces (robot chats, groups) one ``createAndDeliver`` takes: DingTalk publishes no
maximum, so a broadcast cuts its recipients into cards of ten (``size=`` to change)."""
ALREADY_EXISTS = "param.cardAlreadyExist"
TEMPLATE_CODES = frozenset({"param.templateNotExist", "param.templateUnpublished"})
Callback = Literal["stream", "http"]

_encode = msgspec.json.Encoder().encode


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty string")
    return value


class _Exists(Exception):
    """``param.cardAlreadyExist``: the card of this id was made before."""


class Cards:
    """``client.cards``: deliver, update, stream into and broadcast interactive cards.

    Robot chats and groups are reached through the enterprise robot ``robot_code`` (the
    client's, or one per call). Every call draws on one budget, ``CARD_API`` at ``qps``
    calls a second, from the client's governor; ``priority`` says who waits for the
    answer ("interactive" for a person, "bulk" for broadcasts). ``out_track_id`` is the
    card's identity and the idempotency key: DingTalk never makes a second card of one id,
    so a retried or resumed delivery whose card exists is a success (``existed``).
    """

    spaces_per_call: int = SPACES_PER_CARD

    def __init__(self, caller: V1Caller, robot_code: str | None = None, *,
                 qps: int = CARD_QPS) -> None:
        self._caller = caller
        self.robot_code = robot_code
        self.qps = qps

    @property
    def qps(self) -> int:
        return self._qps

    @qps.setter
    def qps(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError("qps must be a positive int")
        self._qps = value
        limit = getattr(self._caller.governor, "limit", None)
        if callable(limit):
            limit(CARD_API, value, 1.0)

    def _code(self, robot_code: str | None) -> str:
        code = robot_code if robot_code is not None else self.robot_code
        if code is None:
            raise ValidationError("robot_code is required: give it to the client or the call")
        return _text("robot_code", code)

    async def _send(self, method: str, path: str, body: bytes, decode: Any, *,
                    priority: Priority, timeout: float | None, retry: RetryPolicy | None,
                    on_attempt: AttemptHook | None = None, on_retry: RetryHook | None = None
                    ) -> Any:
        call = Call(method, path, decode, body=body, api=CARD_API, priority=priority)
        try:
            return await self._caller.call(call, timeout=timeout, retry=retry,
                                           on_attempt=on_attempt, on_retry=on_retry)
        except InvalidArgumentError as error:
            if error.sub_code == ALREADY_EXISTS:
                raise _Exists from None
            if error.sub_code in TEMPLATE_CODES:
                raise CardTemplateError(error.errcode, error.errmsg, sub_code=error.sub_code,
                                        request_id=error.request_id, path=error.path) from None
            raise

    def _deliver_body(self, template_id: str, out_track_id: str, data: dict[str, str],
                      private: dict[str, Any], spaces: Sequence[tuple[str, str]],
                      robot_code: str, callback: Callback | None, route_key: str | None
                      ) -> bytes:
        body: dict[str, Any] = {"cardTemplateId": template_id, "outTrackId": out_track_id,
                                "cardData": {"cardParamMap": data},
                                "openSpaceId": open_space_id(spaces), "userIdType": 1}
        if private:
            body["privateData"] = private
        kinds = {kind for kind, _ in spaces}
        if "IM_ROBOT" in kinds:
            body["imRobotOpenSpaceModel"] = {"supportForward": True}
            body["imRobotOpenDeliverModel"] = {"spaceType": "IM_ROBOT", "robotCode": robot_code}
        if "IM_GROUP" in kinds:
            body["imGroupOpenSpaceModel"] = {"supportForward": True}
            body["imGroupOpenDeliverModel"] = {"robotCode": robot_code}
        if callback is not None:
            body["callbackType"] = callback.upper()
            if route_key is not None:
                body["callbackRouteKey"] = route_key
        return _encode(body)

    async def deliver(
        self,
        template_id: str,
        *,
        out_track_id: str,
        data: Mapping[str, Any],
        private_data: Mapping[str, Mapping[str, Any]] | None = None,
        userids: Sequence[str] = (),
        open_conversation_id: str | None = None,
        callback: Callback | None = "stream",
        route_key: str | None = None,
        robot_code: str | None = None,
        priority: Priority = "interactive",
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> CardDelivery:
        """Create the card ``out_track_id`` from ``template_id`` and deliver it to each
        user's chat with the robot and/or the group ``open_conversation_id``.

        ``data`` values that are not strings are JSON-encoded; ``private_data`` is per
        user. ``callback`` is where clicks go: ``"stream"`` (``dingnotify.stream``),
        ``"http"`` (with ``route_key``, registered with DingTalk) or None (nowhere). At
        most ``spaces_per_call`` spaces: use ``broadcast`` for more. Each space ends
        delivered or failed (``CardDelivery``), even when DingTalk answers HTTP 200.
        """
        body, spaces = self._prepare(template_id, out_track_id, data, private_data, userids,
                                     open_conversation_id, callback, route_key, robot_code)
        return await self._deliver(body, out_track_id, spaces, priority=priority,
                                   timeout=timeout, retry=retry)

    def _prepare(self, template_id: str, out_track_id: str, data: Mapping[str, Any],
                 private_data: Mapping[str, Mapping[str, Any]] | None,
                 userids: Sequence[str], open_conversation_id: str | None,
                 callback: Callback | None, route_key: str | None, robot_code: str | None
                 ) -> tuple[bytes, list[tuple[str, str]]]:
        _text("template_id", template_id)
        _text("out_track_id", out_track_id)
        if isinstance(userids, str | bytes):
            raise ValidationError("userids must be a collection of userids, not one string")
        spaces = space_ids(list(userids), open_conversation_id)
        if len(spaces) > self.spaces_per_call:
            raise ValidationError(f"one card goes to at most {self.spaces_per_call} spaces, "
                                  f"got {len(spaces)}; use broadcast for more")
        if callback not in ("stream", "http", None):
            raise ValidationError('callback must be "stream", "http" or None')
        if (callback == "http") != (route_key is not None):
            raise ValidationError('route_key= goes with callback="http", and only with it')
        body = self._deliver_body(template_id, out_track_id, card_param_map(data),
                                  private_param_maps(private_data), spaces,
                                  self._code(robot_code), callback, route_key)
        return body, spaces

    async def _deliver(self, body: bytes, out_track_id: str, spaces: list[tuple[str, str]],
                       **options: Any) -> CardDelivery:
        try:
            results = await self._send("POST", PATH_DELIVER, body, decode_delivered, **options)
        except _Exists:
            return CardDelivery(out_track_id=out_track_id,
                                delivered=[ident for _, ident in spaces], existed=True)
        return delivery(out_track_id, spaces, results)

    async def update(
        self,
        out_track_id: str,
        *,
        data: Mapping[str, Any] | None = None,
        private_data: Mapping[str, Mapping[str, Any]] | None = None,
        replace: bool = False,
        priority: Priority = "interactive",
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Change the card everywhere it was delivered: ``data`` merged by key into what
        it shows (``replace=True``: the whole map overwritten), ``private_data`` likewise
        for each user's own view."""
        body: dict[str, Any] = {"outTrackId": _text("out_track_id", out_track_id),
                                "userIdType": 1}
        if data is not None:
            body["cardData"] = {"cardParamMap": card_param_map(data)}
        private = private_param_maps(private_data)
        if private:
            body["privateData"] = private
        if data is None and not private:
            raise ValidationError("give data= or private_data= to update")
        body["cardUpdateOptions"] = {"updateCardDataByKey": not replace,
                                     "updatePrivateDataByKey": not replace}
        await self._send("PUT", PATH_UPDATE, _encode(body),
                         lambda b: decode_ok(b, "card/instances update"),
                         priority=priority, timeout=timeout, retry=retry)

    def streaming(
        self,
        out_track_id: str,
        *,
        key: str = "content",
        interval: float = STREAM_INTERVAL,
        max_bytes: int = MAX_STREAM_BYTES,
        priority: Priority = "interactive",
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> CardStream:
        """``async with client.cards.streaming(id, key="content") as s: await s.write(t)``:
        types into the card's streaming variable ``key`` (see ``CardStream``)."""
        _text("out_track_id", out_track_id)
        _text("key", key)
        if not interval >= 0:
            raise ValidationError("interval must be >= 0 seconds")

        async def put(content: str, final: bool, error: bool, guid: str) -> None:
            body = _encode({"outTrackId": out_track_id, "guid": guid, "key": key,
                            "content": content, "isFull": True, "isFinalize": final,
                            "isError": error})
            await self._send("PUT", PATH_STREAMING, body,
                             lambda b: decode_ok(b, "card/streaming"),
                             priority=priority, timeout=timeout, retry=retry)

        return CardStream(put, interval=interval, max_bytes=max_bytes)

    async def broadcast(
        self,
        template_id: str,
        *,
        data: Mapping[str, Any],
        userids: UserIdStream,
        id_prefix: str,
        size: int | None = None,
        callback: Callback | None = "stream",
        route_key: str | None = None,
        robot_code: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        priority: Priority = "bulk",
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_event: EventHook[str] | None = None,
        report: CardBroadcastReport | None = None,
        rate_limit_stop: int | None = None,
        acknowledged: Mapping[int, str] | None = None,
    ) -> CardBroadcastReport:
        """Deliver one card per ``size`` users (``spaces_per_call``, default
        ``SPACES_PER_CARD``), card ``n`` with id ``f"{id_prefix}-{n}"``, through the
        fan-out engine.

        Users are de-duplicated in order. Run again with the same ``id_prefix`` and the
        same users in the same order (after a crash, a cancel, a timeout) and nothing is
        delivered twice: cards that exist count as delivered (``report.existed``), the rest
        are sent. ``timeout`` bounds the whole run; the report accounts for every user.
        ``acknowledged`` (batch index -> ``outTrackId`` of an earlier run, a journal's) are
        recorded and not sent again: their users are ``report.resumed_userids``.
        """
        _text("id_prefix", id_prefix)
        _text("template_id", template_id)
        size = self.spaces_per_call if size is None else size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValidationError("size must be a positive int")
        if isinstance(userids, Collection) and not userids:
            raise ValidationError("no recipients: userids is empty")
        code = self._code(robot_code)
        params = card_param_map(data)
        if (callback == "http") != (route_key is not None):
            raise ValidationError('route_key= goes with callback="http", and only with it')
        report = report if report is not None else CardBroadcastReport()

        async def send(batch: Batch[str], on_attempt: AttemptHook, on_retry: RetryHook) -> str:
            out_track_id = f"{id_prefix}-{batch.index}"
            spaces = [("IM_ROBOT", u) for u in batch.userids]
            body = self._deliver_body(template_id, out_track_id, params, {}, spaces, code,
                                      callback, route_key)
            report.deliveries[batch.index] = await self._deliver(
                body, out_track_id, spaces, priority=priority, timeout=None, retry=retry,
                on_attempt=on_attempt, on_retry=on_retry)
            return out_track_id

        await run_broadcast(send, userids, planner=BatchPlanner(userids_per_call=size),
                            concurrency=concurrency, timeout=timeout, on_event=on_event,
                            report=report, rate_limit_stop=rate_limit_stop,
                            acknowledged=acknowledged)
        return report


def new_out_track_id() -> str:
    """A fresh card id, for callers with no natural one."""
    return uuid.uuid4().hex
