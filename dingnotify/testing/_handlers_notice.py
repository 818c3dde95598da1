"""Work notifications (send, progress, result, recall, status bar) and cross-domain IM send.

Choices where DingTalk's docs are silent: an ``agent_id`` that is not the token's app ->
88 / sub_code ``60011`` (no permission); an unknown or foreign task id -> 40035; a missing
``task_id`` -> 40035. ``getsendresult`` answers arrays (the live form) unless the emulator
was built with ``result_lists_as_strings=True`` (comma strings, as older answers had).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._core import Core, CrossdomainMessage, TopapiFn, topapi_endpoint
from ._delivery import Task
from ._org import App
from ._validate import as_int, invalid, missing, parse_crossdomain, parse_send

BASE = "/topapi/message/corpconversation"


class NoticeHandlers:
    def __init__(self, core: Core) -> None:
        self.core = core

    def routes(self) -> list[web.RouteDef]:
        def post(path: str, fn: Any) -> web.RouteDef:
            return web.post(path, topapi_endpoint(self.core, fn))

        return [
            post(f"{BASE}/asyncsend_v2", self.asyncsend),
            post(f"{BASE}/getsendprogress", self.progress),
            post(f"{BASE}/getsendresult", self.result),
            post(f"{BASE}/recall", self.recall),
            post(f"{BASE}/status_bar/update", self.status_bar),
            post("/topapi/dingtalk/impaas/message/crossdomain/send", self.crossdomain),
        ]

    def session_methods(self) -> dict[str, tuple[str, TopapiFn]]:
        """TOP method names of the calls also served through ``/router/rest`` with a session."""
        return {f"dingtalk.oapi.message.corpconversation.{name}": (f"{BASE}/{name}", fn)
                for name, fn in (("asyncsend_v2", self.asyncsend),
                                 ("getsendprogress", self.progress),
                                 ("getsendresult", self.result))}

    def asyncsend(self, app: App, body: dict[str, Any]) -> dict[str, Any]:
        limits = self.core.limits
        request = parse_send(body, self.core.media.known, max_userids=limits.userids_per_call,
                             max_depts=limits.dept_ids_per_call)
        self.core.check_agent(app, request.agent_id)
        task = self.core.delivery.create(app, request)
        return {"errcode": 0, "errmsg": "ok", "task_id": task.task_id}

    def _task(self, app: App, body: dict[str, Any], key: str = "task_id") -> Task:
        if body.get("agent_id") is not None:
            self.core.check_agent(app, as_int(body["agent_id"], "agent_id"))
        task_id = as_int(body.get(key), key)
        task = self.core.delivery.tasks.get(task_id)
        if task is None or task.app_key != app.app_key:
            raise invalid(key, f"task {task_id} not found")
        return task

    def progress(self, app: App, body: dict[str, Any]) -> dict[str, Any]:
        percent, status = self.core.delivery.progress(self._task(app, body))
        return {"errcode": 0, "errmsg": "ok",
                "progress": {"progress_in_percent": percent, "status": status}}

    def result(self, app: App, body: dict[str, Any]) -> dict[str, Any]:
        task = self._task(app, body)
        as_strings = self.core.result_lists_as_strings
        return {"errcode": 0, "errmsg": "ok",
                "send_result": self.core.delivery.send_result(task, as_strings=as_strings)}

    def recall(self, app: App, body: dict[str, Any]) -> dict[str, Any]:
        self.core.delivery.recall(self._task(app, body, "msg_task_id"))
        return {"errcode": 0, "errmsg": "ok"}

    def status_bar(self, app: App, body: dict[str, Any]) -> dict[str, Any]:
        task = self._task(app, body)
        value = body.get("status_value")
        if value is None or value == "":
            raise missing("status_value")
        task.status_value = str(value)
        background = body.get("status_bg")
        task.status_bg = None if background is None else str(background)
        return {"errcode": 0, "errmsg": "ok"}

    def crossdomain(self, app: App, body: dict[str, Any]) -> dict[str, Any]:
        model = parse_crossdomain(body)
        if not self.core.lean:
            self.core.crossdomain_messages.append(
                CrossdomainMessage(app.app_key, model, self.core.clock()))
        return {"errcode": 0, "errmsg": ""}
