"""The new-generation robot API (``/v1.0/...``) on the same server as the oapi paths.

Each call: header token -> per-app, per-API limit -> JSON body -> one job. Wire rules and
error choices are in ``_robot_wire``; state (robots, sends, inboxes) in ``_robot_state``.
The profile's per-second and per-minute windows both answer 403
``QpsLimitForAppkeyAndApi`` (DingTalk publishes no separate per-minute code); the profile
has no monthly quota, so ``ApiCountLimitForOrg`` is never answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import _robot_wire as rw
from ._core import Core
from ._org import App
from ._ratelimit import PER_SECOND
from ._robot_state import RobotState

ROBOT = "/v1.0/robot"
Job = Callable[[App, web.Request], Awaitable[dict[str, Any]]]


class RobotHandlers:
    def __init__(self, core: Core, state: RobotState) -> None:
        self.core = core
        self.state = state
        self.request_ids = rw.RequestIds(state.seed)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1.0/oauth2/accessToken", self.access_token),
            web.post(f"{ROBOT}/oToMessages/batchSend", self._endpoint(self.batch_send)),
            web.post(f"{ROBOT}/groupMessages/send", self._endpoint(self.group_send)),
            web.post(f"{ROBOT}/otoMessages/batchRecall", self._endpoint(self.batch_recall)),
            web.get(f"{ROBOT}/oToMessages/readStatus", self._endpoint(self.read_status)),
        ]

    async def access_token(self, request: web.Request) -> web.StreamResponse:
        request_id = self.request_ids.next()
        try:
            body = await rw.json_body(request)
            key, secret = rw.text(body, "appKey"), rw.text(body, "appSecret")
            app = next((a for a in self.core.org.apps if a.app_key == key), None)
            if app is None or app.app_secret != secret:
                raise rw.RobotError(400, rw.BAD_CREDENTIALS, "无效的clientId或者clientSecret")
        except rw.RobotError as error:
            return rw.error_response(error, request_id)
        token = self.state.tokens.issue(app)
        return rw.respond({"accessToken": token, "expireIn": int(self.state.tokens.ttl)},
                          request_id)

    def _endpoint(self, job: Job) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            request_id = self.request_ids.next()
            try:
                app = self._authorize(request)
                self._throttle(app, request.path)
                payload = await job(app, request)
            except rw.RobotError as error:
                return rw.error_response(error, request_id)
            return rw.respond(payload, request_id)

        return handle

    def _authorize(self, request: web.Request) -> App:
        app = self.state.tokens.app_for(request.headers.get(rw.TOKEN_HEADER))
        if app is None:
            raise rw.RobotError(400, rw.INVALID_AUTH, "不合法的access_token")
        return app

    def _throttle(self, app: App, path: str) -> None:
        verdict = self.core.limiter.check(("robot", app.app_key, path))
        if verdict is None:
            return
        self.state.throttled[rw.QPS_LIMITED] += 1
        limits = self.core.limiter.limits
        window = f"{limits.qps:g}/s" if verdict == PER_SECOND else f"{limits.per_minute}/min"
        raise rw.RobotError(403, rw.QPS_LIMITED, "Current request is limited by flow control "
                            f"of the AppKey and API ({window})")

    def _robot(self, app: App, source: dict[str, Any]) -> str:
        code = rw.text(source, "robotCode")
        owner = self.state.robots.get(code)
        if owner is None:
            raise rw.invalid("robotCode", f"robot {code!r} does not exist")
        if owner != app.app_key:
            raise rw.RobotError(403, rw.NO_PERMISSION,
                                "the robot does not belong to this access token's app")
        return code

    async def batch_send(self, app: App, request: web.Request) -> dict[str, Any]:
        body = await rw.json_body(request)
        code = self._robot(app, body)
        userids = rw.id_list(body, "userIds", rw.MAX_USERIDS)
        msg_key, param = rw.message(body)
        record = self.state.send(app, code, userids, msg_key, param)
        payload: dict[str, Any] = {"processQueryKey": record.process_query_key,
                                   "invalidStaffIdList": record.invalid,
                                   "flowControlledStaffIdList": record.throttled}
        if record.filtered:
            payload["filteredStaffIdList"] = record.filtered
        return payload

    async def group_send(self, app: App, request: web.Request) -> dict[str, Any]:
        body = await rw.json_body(request)
        code = self._robot(app, body)
        conversation = rw.text(body, "openConversationId")
        msg_key, param = rw.message(body, rw.MAX_GROUP_PARAM_BYTES)
        record = self.state.send_to_group(app, code, conversation, msg_key, param)
        return {"processQueryKey": record.process_query_key}

    async def batch_recall(self, app: App, request: web.Request) -> dict[str, Any]:
        body = await rw.json_body(request)
        code = self._robot(app, body)
        keys = rw.id_list(body, "processQueryKeys", rw.MAX_RECALL_KEYS)
        done, failed = self.state.recall(code, keys)
        return {"successResult": done, "failedResult": failed}

    async def read_status(self, app: App, request: web.Request) -> dict[str, Any]:
        query = dict(request.query)
        code = self._robot(app, query)
        key = rw.text(query, "processQueryKey")
        record = self.state.find(code, key)
        if record is None:
            raise rw.invalid("processQueryKey", "no such message in the last 24 hours")
        status = self.state.status(record)
        done = status != "PROCESSING"
        users = self.core.org.users
        infos: list[dict[str, Any]] = []
        for uid in record.delivered:
            read_at = self.state.read_at(record, uid) if done else None
            info: dict[str, Any] = {"name": users[uid].name, "userId": uid,
                                    "readStatus": "UNREAD" if read_at is None else "READ"}
            if read_at is not None:
                info["readTimestamp"] = int(read_at * 1000)  # epoch ms, as the SDK's Long
            infos.append(info)
        return {"sendStatus": status, "messageReadInfoList": infos}
