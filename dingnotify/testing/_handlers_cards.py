"""The card API (``/v1.0/card/*``): create and deliver, deliver, update, streaming.

Each call: header token (the robot API's tokens) -> permission -> per-app, per-API limit
(403 ``QpsLimitForAppkeyAndApi``, as for every v1.0 API: DingTalk publishes no card
figure) -> JSON body -> one change to ``CardState``. Robot codes are the robot API's.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import _card_wire as cw
from . import _robot_wire as rw
from ._card_state import CardInstance, CardState
from ._core import Core
from ._org import App
from ._robot_state import RobotState

CARD = "/v1.0/card"
Job = Callable[[App, dict[str, Any]], Any]


class CardHandlers:
    def __init__(self, core: Core, robot: RobotState, state: CardState) -> None:
        self.core = core
        self.robot = robot
        self.state = state
        self.request_ids = rw.RequestIds(robot.seed + 22)

    def routes(self) -> list[web.RouteDef]:
        card, stream = cw.CARD_PERMISSION, cw.STREAM_PERMISSION
        return [
            web.post(f"{CARD}/instances/createAndDeliver",
                     self._endpoint(self.create_and_deliver, card)),
            web.post(f"{CARD}/instances", self._endpoint(self.create, card)),
            web.post(f"{CARD}/instances/deliver", self._endpoint(self.deliver, card)),
            web.put(f"{CARD}/instances", self._endpoint(self.update, card)),
            web.put(f"{CARD}/streaming", self._endpoint(self.streaming, stream)),
        ]

    def _endpoint(self, job: Job, permission: str
                  ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            request_id = self.request_ids.next()
            try:
                app = self.robot.tokens.app_for(request.headers.get(rw.TOKEN_HEADER))
                if app is None:
                    raise rw.RobotError(400, rw.INVALID_AUTH, "不合法的access_token")
                if permission in self.state.denied:
                    raise rw.RobotError(403, rw.NO_PERMISSION,
                                        f"没有调用该接口的权限，接口权限申请参考：{permission}")
                self._throttle(app, request.method + " " + request.path)
                body = await rw.json_body(request)
                self.state.calls[request.method + " " + request.path] += 1
                result = job(app, body)
            except rw.RobotError as error:
                return rw.error_response(error, request_id)
            return rw.respond({"success": True, "result": result}, request_id)

        return handle

    def _throttle(self, app: App, api: str) -> None:
        if self.core.limiter.check(("card", app.app_key, api)) is not None:
            self.robot.throttled[rw.QPS_LIMITED] += 1
            raise rw.RobotError(403, rw.QPS_LIMITED, "Current request is limited by flow "
                                "control of the AppKey and API")

    def _new_card(self, app: App, body: dict[str, Any]) -> CardInstance:
        out_track_id = cw.text(body, "outTrackId", "param.outTrackIdEmpty")
        template_id = cw.text(body, "cardTemplateId", "param.cardTemplateIdEmpty")
        self.state.template(template_id)
        sizes = self.state.check_sizes
        public = cw.card_data(body, "cardData", sizes)
        if public is None:
            raise cw.card_error("param.cardPublicDataEmpty")
        private = cw.private_data(body, sizes)
        self.state.moderate(public, *private.values())
        callback = body.get("callbackType")
        if callback is not None and callback not in ("STREAM", "HTTP"):
            raise cw.card_error("param.invalid", message="callbackType is STREAM or HTTP")
        if callback == "HTTP" and not body.get("callbackRouteKey"):
            raise cw.card_error("param.invalid", message="HTTP callbacks need callbackRouteKey")
        id_type = body.get("userIdType", 1)
        if id_type not in (1, 2):
            raise cw.card_error("param.invalid", message="userIdType is 1 or 2")
        return CardInstance(out_track_id, app.app_key, template_id, public, private,
                            callback, body.get("callbackRouteKey"), id_type)

    def _targets(self, app: App, body: dict[str, Any], creating: bool
                 ) -> list[tuple[str, str]]:
        targets = cw.spaces(body.get("openSpaceId"))
        if self.state.max_spaces is not None and len(targets) > self.state.max_spaces:
            raise cw.card_error("param.openSpaceIdInvalid",
                                message=f"at most {self.state.max_spaces} spaces")
        for kind in dict.fromkeys(kind for kind, _ in targets):
            model = body.get(cw.DELIVER_MODELS[kind])
            if model is None and kind == "IM_ROBOT":
                raise cw.card_error("param.openDeliverModelEmpty")
            if model is not None and not isinstance(model, dict):
                raise cw.card_error("param.openDeliverModelError")
            if kind == "IM_GROUP" and model is None:
                raise cw.card_error("param.openDeliverModelEmpty")
            if creating and kind != "IM_ROBOT" and body.get(cw.SPACE_MODELS[kind]) is None:
                raise cw.card_error("param.openSpaceModelInvalid")
            if kind in ("IM_ROBOT", "IM_GROUP"):
                self._robot(app, model or {})
        return targets

    def _robot(self, app: App, model: dict[str, Any]) -> None:
        code = model.get("robotCode")
        if not isinstance(code, str) or not code:
            raise cw.card_error("param.openDeliverModelError", message="robotCode is required")
        if code != app.app_key and self.robot.robots.get(code) != app.app_key:
            raise rw.RobotError(403, rw.NO_PERMISSION, "the robot is not this app's")

    def create_and_deliver(self, app: App, body: dict[str, Any]) -> dict[str, Any]:
        card = self._new_card(app, body)
        targets = self._targets(app, body, creating=True)
        existing = self.state.create(card)
        if existing is not None:  # noop mode: the first delivery stands
            return {"outTrackId": existing.out_track_id, "deliverResults": existing.results}
        return {"outTrackId": card.out_track_id,
                "deliverResults": self.state.deliver(card, targets)}

    def create(self, app: App, body: dict[str, Any]) -> str:
        card = self._new_card(app, body)
        self.state.create(card)
        return card.out_track_id

    def deliver(self, app: App, body: dict[str, Any]) -> list[dict[str, Any]]:
        card = self.state.card(cw.text(body, "outTrackId", "param.outTrackIdEmpty"))
        return self.state.deliver(card, self._targets(app, body, creating=False))

    def update(self, app: App, body: dict[str, Any]) -> bool:
        card = self.state.card(cw.text(body, "outTrackId", "param.outTrackIdEmpty"))
        sizes = self.state.check_sizes
        public = cw.card_data(body, "cardData", sizes)
        private = cw.private_data(body, sizes)
        if public is None and not private:
            raise cw.card_error("param.cardDataAndPrivateDataBothEmpty")
        self.state.moderate(public or {}, *private.values())
        options = body.get("cardUpdateOptions") or {}
        if not isinstance(options, dict):
            raise cw.card_error("param.invalid", message="cardUpdateOptions must be an object")
        self.state.update(card, public, private, options.get("updateCardDataByKey") is True,
                          options.get("updatePrivateDataByKey") is True)
        return True

    def streaming(self, app: App, body: dict[str, Any]) -> bool:
        out_track_id = body.get("outTrackId")
        card = self.state.cards.get(out_track_id) if isinstance(out_track_id, str) else None
        if card is None:
            raise cw.card_error("param.stream.outTrackId", message="card is not exist")
        guid = cw.text(body, "guid", "param.stream.guidEmpty")
        key = cw.text(body, "key", "param.stream.keyEmpty")
        content = body.get("content")
        if not isinstance(content, str) or not content:
            raise cw.card_error("param.stream.contentEmpty")
        if len(content.encode()) > cw.MAX_STREAM_BYTES:
            raise cw.card_error("param.stream.content", message="content is too large")
        template = self.state.templates.get(card.template_id)
        if template is not None and template.keys and key not in template.keys:
            raise cw.card_error("param.stream.keyEmpty", message=f"no variable {key!r}")
        flags = {name: body.get(name, False) for name in ("isFull", "isFinalize", "isError")}
        if not all(isinstance(v, bool) for v in flags.values()):
            raise cw.card_error("param.stream.isFull")
        self.state.moderate({key: content})
        if not self.state.streaming_allowed(time.monotonic()):
            raise rw.RobotError(429, "Throttling", "AI Card streaming API QPS limit")
        self.state.stream(card, guid, key, content, full=flags["isFull"],
                          finalize=flags["isFinalize"], error=flags["isError"])
        return True
