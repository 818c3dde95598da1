"""The emulator's new-generation robot API, pinned with raw HTTP (never the SDK)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from yarl import URL

from dingnotify.testing import App, Emulator, Fault, FaultPlan, ManualClock, Org, RateLimits

TOKEN = "/v1.0/oauth2/accessToken"
SEND = "/v1.0/robot/oToMessages/batchSend"
GROUP = "/v1.0/robot/groupMessages/send"
RECALL = "/v1.0/robot/otoMessages/batchRecall"
STATUS = "/v1.0/robot/oToMessages/readStatus"
HEADER = "x-acs-dingtalk-access-token"
QPS_CODE = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"


class Robot:
    """Raw HTTP against one emulator: (status, JSON body) for every call."""

    def __init__(self, emu: Emulator, session: aiohttp.ClientSession) -> None:
        self.emu = emu
        self.session = session
        self._token: str | None = None

    async def call(self, method: str, path: str, *, body: Any = None, raw: bytes | None = None,
                   token: str | None = None, params: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        all_headers = {"Content-Type": "application/json"} if method == "POST" else {}
        if token is not None:
            all_headers[HEADER] = token
        all_headers.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        async with self.session.request(method, self.emu.url + path, data=data, params=params,
                                        headers=all_headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def token(self) -> str:
        if self._token is None:
            app = self.emu.app
            status, body = await self.call(
                "POST", TOKEN, body={"appKey": app.app_key, "appSecret": app.app_secret})
            assert status == 200, body
            self._token = body["accessToken"]
        return self._token

    async def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        kw.setdefault("token", await self.token())
        return await self.call("POST", path, body=body, **kw)

    async def send(self, userids: list[str], msg_key: str = "sampleText",
                   msg_param: Any = '{"content":"hi"}', *,
                   token: str | None = None) -> tuple[int, Any]:
        body = {"robotCode": self.emu.robot_code, "userIds": userids, "msgKey": msg_key,
                "msgParam": msg_param}
        return await self.post(SEND, body, **({} if token is None else {"token": token}))

    async def status(self, key: str, robot_code: str | None = None) -> tuple[int, Any]:
        params = {"robotCode": robot_code or self.emu.robot_code, "processQueryKey": key}
        return await self.call("GET", STATUS, params=params, token=await self.token())

    async def recall(self, keys: list[str]) -> tuple[int, Any]:
        return await self.post(RECALL, {"robotCode": self.emu.robot_code,
                                        "processQueryKeys": keys})


@pytest.fixture
def robot(emu: Emulator, session: aiohttp.ClientSession) -> Robot:
    return Robot(emu, session)


def assert_error(status: int, body: Any, want_status: int, code: str) -> None:
    assert (status, body["code"]) == (want_status, code), body
    assert set(body) == {"code", "message", "requestid"}
    assert len(body["requestid"]) == 36 and body["requestid"].count("-") == 4


# -- token ---------------------------------------------------------------------------


async def test_token_shape_reuse_and_namespace(robot: Robot, emu: Emulator) -> None:
    app = emu.app
    status, body = await robot.call("POST", TOKEN, body={"appKey": app.app_key,
                                                         "appSecret": app.app_secret})
    assert status == 200 and set(body) == {"accessToken", "expireIn"}
    assert body["expireIn"] == 7200 and len(body["accessToken"]) == 32
    _, again = await robot.call("POST", TOKEN, body={"appKey": app.app_key,
                                                     "appSecret": app.app_secret})
    assert again["accessToken"] == body["accessToken"]
    async with robot.session.get(emu.url + "/gettoken", params={
            "appkey": app.app_key, "appsecret": app.app_secret}) as resp:
        oapi = (await resp.json(content_type=None))["access_token"]
    assert oapi != body["accessToken"]
    status, err = await robot.send(["u000001"], token=oapi)
    assert_error(status, err, 400, "InvalidAuthentication")


@pytest.mark.parametrize(("body", "raw", "code"), [
    ({"appKey": "dingemuappkey", "appSecret": "wrong"}, None, "invalidClientIdOrSecret"),
    ({"appKey": "nope", "appSecret": "emu-secret-do-not-log"}, None, "invalidClientIdOrSecret"),
    ({"appKey": "dingemuappkey"}, None, "MissingappSecret"),
    ({"appSecret": "emu-secret-do-not-log"}, None, "MissingappKey"),
    (None, b"appKey=dingemuappkey&appSecret=emu-secret-do-not-log", "InvalidParameter"),
    (None, b"", "InvalidParameter"),
])
async def test_token_errors(robot: Robot, body: Any, raw: bytes | None, code: str) -> None:
    status, answer = await robot.call("POST", TOKEN, body=body, raw=raw)
    assert_error(status, answer, 400, code)
    assert "emu-secret" not in json.dumps(answer)


async def test_header_token_required(robot: Robot, emu: Emulator) -> None:
    token = await robot.token()
    body = {"robotCode": emu.robot_code, "userIds": ["u000001"], "msgKey": "sampleText",
            "msgParam": '{"content":"hi"}'}
    status, answer = await robot.call("POST", SEND, body=body, params={"access_token": token})
    assert_error(status, answer, 400, "InvalidAuthentication")
    status, answer = await robot.call("POST", SEND, body=body, token="0" * 32)
    assert_error(status, answer, 400, "InvalidAuthentication")
    status, answer = await robot.call("GET", STATUS, params={
        "robotCode": emu.robot_code, "processQueryKey": "k", "access_token": token})
    assert_error(status, answer, 400, "InvalidAuthentication")


async def test_token_expiry_and_revocation(robot: Robot, emu: Emulator,
                                           clock: ManualClock) -> None:
    first = await robot.token()
    clock.advance(7201)
    status, answer = await robot.send(["u000001"])
    assert_error(status, answer, 400, "InvalidAuthentication")
    robot._token = None
    second = await robot.token()
    assert second != first and (await robot.send(["u000001"]))[0] == 200
    emu.revoke_tokens()
    status, answer = await robot.send(["u000001"])
    assert_error(status, answer, 400, "InvalidAuthentication")


# -- batchSend -----------------------------------------------------------------------


async def test_batch_send_answer_and_inboxes(robot: Robot, emu: Emulator) -> None:
    status, body = await robot.send(["u000001", "ghost", "u000002", "u000001"])
    assert status == 200
    assert set(body) == {"processQueryKey", "invalidStaffIdList", "flowControlledStaffIdList"}
    assert body["invalidStaffIdList"] == ["ghost"] and body["flowControlledStaffIdList"] == []
    key = body["processQueryKey"]
    for uid in ("u000001", "u000002"):
        (message,) = emu.robot_inbox(uid)
        assert (message.process_query_key, message.msg_key, message.msg_param) == \
            (key, "sampleText", {"content": "hi"})
        assert message.robot_code == emu.robot_code and not message.recalled
    assert emu.robot_inbox("ghost") == [] and emu.robot_inbox("u000003") == []
    sent = next(r for r in emu.requests if r.path == SEND)
    assert sent.json["msgParam"] == '{"content":"hi"}' and sent.response == body


async def test_filtered_userids_reported_only_when_present(robot: Robot, emu: Emulator) -> None:
    emu.robot.filtered_userids.add("u000002")
    status, body = await robot.send(["u000001", "u000002"])
    assert status == 200 and body["filteredStaffIdList"] == ["u000002"]
    assert emu.robot_inbox("u000002") == []


TEMPLATE_PARAMS: dict[str, dict[str, str]] = {
    "sampleText": {"content": "c"},
    "sampleMarkdown": {"title": "t", "text": "**x**"},
    "sampleLink": {"text": "t", "title": "T", "picUrl": "@lADO", "messageUrl": "https://m"},
    "sampleImageMsg": {"photoURL": "https://p"},
    "sampleActionCard": {"title": "t", "text": "x", "singleTitle": "Go",
                         "singleURL": "https://s"},
    **{f"sampleActionCard{n}": {"title": "t", "text": "x",
                                **{f"action{k}{i}": f"{k}{i}" for i in range(1, n + 1)
                                   for k in ("Title", "URL")}} for n in range(2, 6)},
    "sampleFile": {"mediaId": "@m", "fileName": "a.pdf", "fileType": "pdf"},
    "sampleAudio": {"mediaId": "@m", "duration": "3000"},
    "sampleVideo": {"duration": "12", "videoMediaId": "@v", "videoType": "mp4",
                    "picMediaId": "@p"},
}


@pytest.mark.parametrize("msg_key", sorted(TEMPLATE_PARAMS))
async def test_every_template_is_accepted(robot: Robot, emu: Emulator, msg_key: str) -> None:
    param = TEMPLATE_PARAMS[msg_key]
    status, body = await robot.send(["u000001"], msg_key, json.dumps(param))
    assert status == 200, body
    assert emu.robot_inbox("u000001")[-1].msg_param == param
    extra = json.dumps({**param, "extra": "x"})
    status, body = await robot.send(["u000001"], msg_key, extra)
    assert_error(status, body, 400, "InvalidParameter")


def _body(**change: Any) -> dict[str, Any]:
    body = {"robotCode": "<default>", "userIds": ["u000001"], "msgKey": "sampleText",
            "msgParam": '{"content":"hi"}'}
    body.update(change)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(("body", "code"), [
    (_body(robotCode=None), "MissingrobotCode"),
    (_body(robotCode="dingunknown"), "InvalidParameter"),
    (_body(userIds=None), "MissinguserIds"),
    (_body(userIds=[]), "InvalidParameter"),
    (_body(userIds="u000001"), "InvalidParameter"),
    (_body(userIds=[f"u{i:06d}" for i in range(1, 22)]), "InvalidParameter"),
    (_body(userIds=["u000001", 7]), "InvalidParameter"),
    (_body(msgKey=None), "MissingmsgKey"),
    (_body(msgKey="sampleActionCard6"), "InvalidParameter"),
    (_body(msgKey="text"), "InvalidParameter"),
    (_body(msgParam=None), "MissingmsgParam"),
    (_body(msgParam={"content": "hi"}), "InvalidParameter"),
    (_body(msgParam="{content: hi}"), "InvalidParameter"),
    (_body(msgParam='["hi"]'), "InvalidParameter"),
    (_body(msgParam='{"text":"hi"}'), "InvalidParameter"),
    (_body(msgParam='{"content":""}'), "InvalidParameter"),
    (_body(msgParam='{"content":5}'), "InvalidParameter"),
    (_body(msgKey="sampleMarkdown", msgParam='{"title":"t"}'), "InvalidParameter"),
    ([1, 2], "InvalidParameter"),
    ("not an object", "InvalidParameter"),
])
async def test_batch_send_validation(robot: Robot, emu: Emulator, body: Any, code: str) -> None:
    if isinstance(body, dict) and body.get("robotCode") == "<default>":
        body["robotCode"] = emu.robot_code
    status, answer = await robot.post(SEND, body)
    assert_error(status, answer, 400, code)
    assert emu.robot.sends == {}


async def test_exactly_twenty_userids_and_non_json_body(robot: Robot, emu: Emulator) -> None:
    status, _ = await robot.send([f"u{i:06d}" for i in range(1, 21)])
    assert status == 200
    status, answer = await robot.post(SEND, raw=b"robotCode=x&userIds=u1")
    assert_error(status, answer, 400, "InvalidParameter")


async def test_robots_belong_to_apps(robot: Robot, emu: Emulator) -> None:
    extra = emu.add_robot()
    assert extra != emu.robot_code and extra.startswith("ding")
    assert (await robot.post(SEND, _body(robotCode=extra)))[0] == 200
    other = App("otherapp", "other-secret", 2000)
    emu.org.apps.append(other)
    foreign = emu.add_robot(other.app_key, robot_code="dingforeign")
    assert foreign == "dingforeign"
    status, answer = await robot.post(SEND, _body(robotCode=foreign))
    assert_error(status, answer, 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied")


async def test_robot_code_is_deterministic_from_seed() -> None:
    assert Emulator(seed=3).robot_code == Emulator(seed=3).robot_code
    assert Emulator(seed=3).robot_code != Emulator(seed=4).robot_code


# -- flow control --------------------------------------------------------------------


async def _flow_controlled(session: aiohttp.ClientSession, ratio: float,
                           seed: int = 0) -> tuple[dict[str, Any], Emulator]:
    users = [f"u{i:06d}" for i in range(1, 20)]
    async with Emulator(robot_flow_control_ratio=ratio, seed=seed) as emu:
        status, body = await Robot(emu, session).send([*users, "ghost"])
    assert status == 200
    return body, emu


async def test_flow_controlled_share_is_not_delivered(session: aiohttp.ClientSession) -> None:
    body, emu = await _flow_controlled(session, 0.5)
    throttled = body["flowControlledStaffIdList"]
    assert 3 <= len(throttled) <= 16 and body["invalidStaffIdList"] == ["ghost"]
    for i in range(1, 20):
        uid = f"u{i:06d}"
        assert (emu.robot_inbox(uid) == []) == (uid in throttled)
    again, _ = await _flow_controlled(session, 0.5)
    assert again["flowControlledStaffIdList"] == throttled
    everyone, _ = await _flow_controlled(session, 1.0)
    assert len(everyone["flowControlledStaffIdList"]) == 19
    with pytest.raises(ValueError):
        Emulator(robot_flow_control_ratio=1.5)


# -- group messages ------------------------------------------------------------------


def _group(robot_code: str, param: str, **change: Any) -> dict[str, Any]:
    body = {"robotCode": robot_code, "openConversationId": "cidAbC==", "msgKey": "sampleText",
            "msgParam": param}
    body.update(change)
    return {k: v for k, v in body.items() if v is not None}


async def test_group_send(robot: Robot, emu: Emulator) -> None:
    status, body = await robot.post(GROUP, _group(emu.robot_code, '{"content":"hi"}'))
    assert status == 200 and set(body) == {"processQueryKey"}
    (message,) = emu.robot_group_messages("cidAbC==")
    assert message.process_query_key == body["processQueryKey"]
    assert message.msg_param == {"content": "hi"}


async def test_group_msg_param_limit_is_15000_bytes(robot: Robot, emu: Emulator) -> None:
    fits = json.dumps({"content": "x" * (15_000 - 14)}, separators=(",", ":"))
    assert len(fits.encode()) == 15_000
    assert (await robot.post(GROUP, _group(emu.robot_code, fits)))[0] == 200
    over = json.dumps({"content": "x" * (15_000 - 13)}, separators=(",", ":"))
    status, answer = await robot.post(GROUP, _group(emu.robot_code, over))
    assert_error(status, answer, 400, "InvalidParameter")
    status, answer = await robot.post(GROUP, _group(emu.robot_code, '{"content":"a"}',
                                                    openConversationId=None))
    assert_error(status, answer, 400, "MissingopenConversationId")


# -- read status ---------------------------------------------------------------------


def _split(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Readers carry ``readTimestamp`` (the official SDK's Long, epoch ms); others do not."""
    infos = body["messageReadInfoList"]
    base = {"name", "userId", "readStatus"}
    assert all(set(i) == (base | {"readTimestamp"} if i["readStatus"] == "READ" else base)
               for i in infos), infos
    assert all(type(i["readTimestamp"]) is int for i in infos if i["readStatus"] == "READ")
    assert {i["readStatus"] for i in infos} <= {"READ", "UNREAD"}
    return ([i["userId"] for i in infos if i["readStatus"] == "READ"],
            [i["userId"] for i in infos if i["readStatus"] == "UNREAD"])


async def test_read_status_evolves(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    users = [f"u{i:06d}" for i in range(1, 21)]
    async with Emulator(clock=clock, read_ratio=0.5, progress_seconds=10) as emu:
        robot = Robot(emu, session)
        _, sent = await robot.send(users)
        key = sent["processQueryKey"]
        seen: list[tuple[str, int]] = []
        for step in (0, 12, 15, 18, 20, 100):
            clock.set(emu.robot.sends[key].created_at + step)
            status, body = await robot.status(key)
            assert status == 200
            read, unread = _split(body)
            assert sorted(read + unread) == users
            seen.append((body["sendStatus"], len(read)))
    assert seen[0] == ("PROCESSING", 0)
    assert all(s == "SUCCESS" for s, _ in seen[1:])
    counts = [n for _, n in seen]
    assert counts == sorted(counts) and counts[-1] == counts[-2] and 3 <= counts[-1] <= 17
    assert counts[1] < counts[-1]
    assert body["messageReadInfoList"][0]["name"] == "User 1"


async def test_read_status_read_timestamps(session: aiohttp.ClientSession) -> None:
    """Each reader's ``readTimestamp`` is the emulator-clock moment it read, in epoch ms:
    inside the reading span (P..2P after the send), not after the query, and fixed once read."""
    clock = ManualClock()
    users = [f"u{i:06d}" for i in range(1, 21)]
    async with Emulator(clock=clock, read_ratio=0.5, progress_seconds=10) as emu:
        robot = Robot(emu, session)
        _, sent = await robot.send(users)
        key = sent["processQueryKey"]
        created_ms = int(emu.robot.sends[key].created_at * 1000)
        first: dict[str, int] = {}
        for step in (15, 100, 3600):
            clock.set(emu.robot.sends[key].created_at + step)
            _, body = await robot.status(key)
            _split(body)
            stamps = {i["userId"]: i["readTimestamp"] for i in body["messageReadInfoList"]
                      if i["readStatus"] == "READ"}
            assert all(created_ms + 10_000 <= t <= int(clock() * 1000) for t in stamps.values())
            assert {u: stamps[u] for u in first} == first  # a read moment never moves
            first = first or stamps
        assert first and len(set(stamps.values())) == len(stamps)  # each at its own moment
        assert max(stamps.values()) <= created_ms + 20_000
    async with Emulator(clock=clock, read_ratio=1.0) as emu:  # P = 0: read on arrival
        robot = Robot(emu, session)
        _, sent = await robot.send(["u000001", "u000002"])
        clock.advance(5)
        _, body = await robot.status(sent["processQueryKey"])
        sent_ms = int(emu.robot.sends[sent["processQueryKey"]].created_at * 1000)
        assert [(i["userId"], i["readTimestamp"]) for i in body["messageReadInfoList"]] == \
            [("u000001", sent_ms), ("u000002", sent_ms)]


async def test_read_status_all_read_and_unknown_keys(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with Emulator(clock=clock, read_ratio=1.0) as emu:
        robot = Robot(emu, session)
        _, sent = await robot.send(["u000001", "u000002", "ghost"])
        key = sent["processQueryKey"]
        assert "+" in key  # needs URL encoding in the query (seed 0's first key)
        status, body = await robot.status(key)
        assert (status, body["sendStatus"]) == (200, "SUCCESS")
        assert _split(body) == (["u000001", "u000002"], [])
        raw_plus = emu.url + STATUS + f"?robotCode={emu.robot_code}&processQueryKey={key}"
        async with session.get(URL(raw_plus, encoded=True),
                               headers={HEADER: await robot.token()}) as resp:
            assert resp.status == 400  # "+" unencoded reads as a space: key not found
        status, answer = await robot.status("no-such-key")
        assert_error(status, answer, 400, "InvalidParameter")
        status, answer = await robot.call("GET", STATUS, token=await robot.token(),
                                          params={"robotCode": emu.robot_code})
        assert_error(status, answer, 400, "MissingprocessQueryKey")
        clock.advance(24 * 3600 + 1)
        robot._token = None
        status, answer = await robot.status(key)
        assert_error(status, answer, 400, "InvalidParameter")


# -- recall --------------------------------------------------------------------------


async def test_recall_then_recall_again(robot: Robot, emu: Emulator) -> None:
    _, sent = await robot.send(["u000001", "u000002"])
    key = sent["processQueryKey"]
    _, group = await robot.post(GROUP, _group(emu.robot_code, '{"content":"g"}'))
    status, body = await robot.recall([key, "unknown-key", group["processQueryKey"]])
    assert status == 200 and body["successResult"] == [key]
    assert set(body["failedResult"]) == {"unknown-key", group["processQueryKey"]}
    assert all(isinstance(v, str) and v for v in body["failedResult"].values())
    assert all(m.recalled for uid in ("u000001", "u000002") for m in emu.robot_inbox(uid))
    status, body = await robot.recall([key])
    assert status == 200 and body["successResult"] == [] and list(body["failedResult"]) == [key]
    assert (await robot.status(key))[1]["sendStatus"] == "RECALLED"


@pytest.mark.parametrize(("keys", "code"), [
    (None, "MissingprocessQueryKeys"),
    ([], "InvalidParameter"),
    ([f"k{i}" for i in range(21)], "InvalidParameter"),
])
async def test_recall_validation(robot: Robot, emu: Emulator, keys: Any, code: str) -> None:
    body = {"robotCode": emu.robot_code}
    if keys is not None:
        body["processQueryKeys"] = keys
    status, answer = await robot.post(RECALL, body)
    assert_error(status, answer, 400, code)


async def test_recall_path_is_lower_case_oto(robot: Robot, emu: Emulator) -> None:
    path = "/v1.0/robot/oToMessages/batchRecall"
    headers = {HEADER: await robot.token()}
    async with robot.session.post(emu.url + path, headers=headers,
                                  json={"robotCode": emu.robot_code,
                                        "processQueryKeys": ["k"]}) as resp:
        assert resp.status == 404


# -- rate limits ---------------------------------------------------------------------


async def test_realistic_burst_draws_403_per_api(session: aiohttp.ClientSession) -> None:
    async with Emulator(profile="realistic") as emu:
        robot = Robot(emu, session)
        await robot.token()
        results = await asyncio.gather(*(robot.send(["u000001"]) for _ in range(45)))
        statuses = [s for s, _ in results]
        assert statuses.count(200) == 40 and statuses.count(403) == 5
        limited = next(b for s, b in results if s == 403)
        assert_error(403, limited, 403, QPS_CODE)
        _, sent = results[0]
        assert (await robot.status(sent["processQueryKey"]))[0] == 200  # another API
        for _ in range(3):
            robot._token = None
            await robot.token()  # the token call is never limited
    assert emu.robot.throttled == {QPS_CODE: 5}


async def test_small_qps_and_per_minute_windows(session: aiohttp.ClientSession) -> None:
    async with Emulator(profile=RateLimits(qps=2)) as emu:
        robot = Robot(emu, session)
        await robot.token()
        statuses = [(await robot.send(["u000001"]))[0] for _ in range(3)]
        assert statuses == [200, 200, 403]
    async with Emulator(profile=RateLimits(per_minute=1)) as emu:
        robot = Robot(emu, session)
        await robot.token()
        assert [(await robot.send(["u000001"]))[0] for _ in range(2)] == [200, 403]


# -- faults --------------------------------------------------------------------------


async def test_fault_plan_applies_to_robot_paths(session: aiohttp.ClientSession) -> None:
    plan = FaultPlan(script={SEND: ["http_503", "ok", "revoke_token"]},
                     rules=[Fault(path="/v1.0/robot/groupMessages/*", kind="http_502")])
    async with Emulator(faults=plan) as emu:
        robot = Robot(emu, session)
        await robot.token()
        async with session.post(emu.url + SEND, json={}) as resp:
            assert resp.status == 503
        assert (await robot.send(["u000001"]))[0] == 200
        status, answer = await robot.send(["u000001"])
        assert_error(status, answer, 400, "InvalidAuthentication")
        async with session.post(emu.url + GROUP, json={}) as resp:
            assert resp.status == 502
    assert emu.faults_injected == {"http_503": 1, "revoke_token": 1, "http_502": 1}
    assert [r.fault for r in emu.requests if r.path == SEND] == ["http_503", None,
                                                                  "revoke_token"]


async def test_lean_mode_skips_inboxes_but_answers(session: aiohttp.ClientSession) -> None:
    async with Emulator(lean=True, org=Org.synthetic(n_users=30)) as emu:
        status, body = await Robot(emu, session).send(["u000001"])
    assert status == 200 and body["processQueryKey"]
    assert emu.robot_inbox("u000001") == []
