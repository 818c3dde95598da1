"""Classic oapi endpoints: tokens, user lookup, media upload, and unknown ``/topapi`` paths.

Error choices for ``/media/upload`` (DingTalk does not document them precisely): missing or
unknown ``type`` or no ``media`` file part -> 40035; a file extension not allowed for the
type -> 40005 (不合法的文件类型); an empty or too-large file -> 40006 (不合法的文件大小).
The size limits default to image 20 MB, voice 2 MB, video 20 MB, file 20 MB (the currently
quoted figures) and are configurable through ``Emulator(media_limits=...)``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web

from ._core import Core, topapi_endpoint
from ._org import App
from ._state import MEDIA_EXTENSIONS, MEDIA_TYPES
from ._validate import invalid, missing
from ._wire import WireError, json_response, plain_error

BAD_CREDENTIALS = 40096
USER_NOT_FOUND = 60121
BAD_FILE_TYPE = 40005
BAD_FILE_SIZE = 40006
INVALID_METHOD = 22


class OapiHandlers:
    def __init__(self, core: Core) -> None:
        self.core = core

    def routes(self) -> list[web.RouteDef]:
        core = self.core
        return [
            web.get("/gettoken", self.gettoken),
            web.get("/user/get_by_mobile", self.get_by_mobile),
            web.post("/topapi/v2/user/getbymobile", topapi_endpoint(core, self.getbymobile_v2)),
            web.post("/media/upload", self.media_upload),
            web.route("*", "/topapi/{tail:.*}", self.unknown_topapi),
        ]

    async def gettoken(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        key = query.get("appkey") or query.get("corpid")
        secret = query.get("appsecret") or query.get("corpsecret")
        if not key or not secret:
            return json_response(plain_error(40035, "缺少参数 corpid or appkey"))
        app = next((a for a in self.core.org.apps if a.app_key == key), None)
        if app is None or app.app_secret != secret:
            return json_response(plain_error(BAD_CREDENTIALS, "不合法的appKey或appSecret"))
        token = self.core.tokens.issue(app)
        return json_response({"errcode": 0, "errmsg": "ok", "access_token": token,
                              "expires_in": int(self.core.tokens.ttl)})

    async def get_by_mobile(self, request: web.Request) -> web.StreamResponse:
        try:
            app = self.core.authorize(request)
            self.core.throttle(app.app_key, request.path)
            userid = self._lookup(request.query.get("mobile"))
        except WireError as error:
            return json_response(self.core.render(error, None))
        return json_response({"errcode": 0, "errmsg": "ok", "userid": userid})

    def getbymobile_v2(self, app: App, body: dict[str, Any]) -> dict[str, Any]:
        mobile = body.get("mobile")
        userid = self._lookup(str(mobile) if isinstance(mobile, int) else mobile)
        return {"errcode": 0, "errmsg": "ok", "result": {"userid": userid}}

    def _lookup(self, mobile: Any) -> str:
        if not mobile or not isinstance(mobile, str):
            raise missing("mobile")
        userid = self.core.org.userid_by_mobile(mobile.strip())
        if userid is None:
            raise WireError(USER_NOT_FOUND, "找不到该用户")
        return userid

    async def unknown_topapi(self, request: web.Request) -> web.StreamResponse:
        name = "dingtalk.oapi." + request.match_info["tail"].strip("/").replace("/", ".")
        sub_msg = f"不合法ApiName，ApiName = {name}"
        return json_response({"errcode": INVALID_METHOD,
                              "errmsg": f"Invalid method[submsg={sub_msg}]",
                              "sub_msg": sub_msg, "request_id": self.core.request_ids.next()})

    async def media_upload(self, request: web.Request) -> web.StreamResponse:
        try:
            app = self.core.authorize(request)
            self.core.throttle(app.app_key, request.path)
            payload = await self._upload(request)
        except WireError as error:
            return json_response(self.core.render(error, None))
        return json_response(payload)

    async def _upload(self, request: web.Request) -> dict[str, Any]:
        if not request.content_type.startswith("multipart/"):
            raise missing("media")
        media_type = request.query.get("type")
        filename: str | None = None
        size = 0
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "type":
                media_type = (await part.text()).strip() or media_type
            elif part.name == "media":
                filename = part.filename
                while chunk := await part.read_chunk(65_536):
                    size += len(chunk)
            else:
                await part.release()
        if not media_type:
            raise missing("type")
        if media_type not in MEDIA_TYPES:
            raise invalid("type", f"must be one of {', '.join(MEDIA_TYPES)}")
        if not filename:
            raise missing("media")
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if extension not in MEDIA_EXTENSIONS[media_type]:
            raise WireError(BAD_FILE_TYPE, f"不合法的文件类型: .{extension} for {media_type}")
        limit = self.core.media_limits[media_type]
        if size == 0 or size > limit:
            raise WireError(BAD_FILE_SIZE, f"不合法的文件大小: {size} bytes, {media_type} "
                            f"limit {limit} bytes")
        media = self.core.media.add(media_type, filename, size, int(self.core.clock() * 1000))
        return {"errcode": 0, "errmsg": "ok", "type": media_type, "media_id": media.media_id,
                "created_at": media.created_at_ms}
