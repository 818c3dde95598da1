"""The blocking clients against the emulator and a mock transport: one loop thread, one
pool, one token, one governor for every thread; closed by ``with``, ``close()`` or exit."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dingnotify import ClientClosedError, Quota, RetryPolicy, SendResult, Text, ValidationError
from dingnotify.robot import RobotSendResult, SampleText
from dingnotify.sync import DingTalkClient, RunningLoopError, TopClient, WebhookRobot
from dingnotify.sync._proxy import Proxy
from dingnotify.testing import Emulator, MockRequest, MockResponse, MockTransport
from dingnotify.webhook import Text as WebhookText
from tests.conftest import APP_KEY, APP_SECRET, BASE, SEND, Scripted, ok

GETTOKEN = "/gettoken"
THREADS = 50


def _client(handler: Scripted, **kwargs: object) -> DingTalkClient:
    return DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE, quota=None,
                          transport=MockTransport(handler), **kwargs)  # type: ignore[arg-type]


async def test_fifty_threads_share_one_token_and_stay_inside_the_quota() -> None:
    async with Emulator(profile="standard") as emu:
        app, users = emu.app, sorted(emu.org.users)
        client = DingTalkClient(app.app_key, app.app_secret, agent_id=app.agent_id,
                                base_url=emu.url, quota=Quota.standard())

        def worker(n: int) -> list[int]:
            return [client.work_notice.send(Text(content=f"t{n}-{i}"), userids=[users[n]])
                    for i in range(2)]

        def run_all() -> tuple[list[list[int]], int]:
            with client, ThreadPoolExecutor(THREADS) as pool:
                return list(pool.map(worker, range(THREADS))), client.token_refreshes

        task_ids, refreshes = await asyncio.to_thread(run_all)
        assert refreshes == 1
        assert len({t for ids in task_ids for t in ids}) == 2 * THREADS
        stats = emu.stats()
        assert stats["counts"][GETTOKEN] == 1  # type: ignore[index]
        assert stats["counts"][SEND] == 2 * THREADS  # type: ignore[index]
        assert stats["throttled"] == {}


def test_methods_return_the_async_types_and_forward_every_keyword() -> None:
    handler = Scripted().route(SEND, ok(task_id=7)).route(
        "/topapi/message/corpconversation/getsendresult",
        ok(send_result={"read_user_id_list": ["u1"]}))
    with _client(handler) as client:
        assert client.work_notice.send(Text(content="hi"), userids=["u1"],
                                       retry=RetryPolicy.none()) == 7
        assert isinstance(client.work_notice.get_result(7), SendResult)
        assert client.work_notice.quota is not None
    sent = [r for r in handler.requests if r.url.path == SEND]
    assert sent[0].json["userid_list"] == "u1"


def test_a_method_the_proxy_does_not_declare_still_works() -> None:
    """New async methods and resources reach sync callers at run time before their typed
    line exists: an undeclared proxy forwards everything."""
    handler = Scripted().route(SEND, ok(task_id=3))
    with _client(handler) as client:
        bare = Proxy(client, ("work_notice",))
        assert bare.send(Text(content="hi"), userids=["u1"]) == 3
        assert bare.quota is not None
        assert isinstance(Proxy(client, ()).users, Proxy)
        assert inspect.signature(bare.send) == inspect.signature(client.work_notice.send)


def test_bad_arguments_raise_in_the_constructor() -> None:
    with pytest.raises(ValidationError):
        DingTalkClient(APP_KEY, "", agent_id=1)
    with pytest.raises(ValidationError):
        WebhookRobot("ftp://nowhere")


def test_after_close_every_call_raises_client_closed() -> None:
    client = _client(Scripted().route(SEND, ok(task_id=1)))
    assert client.work_notice.send(Text(content="hi"), userids=["u1"]) == 1
    client.close()
    client.close()  # idempotent
    with pytest.raises(ClientClosedError):
        client.work_notice.send(Text(content="hi"), userids=["u1"])
    with pytest.raises(ClientClosedError):
        client.get_access_token()
    assert "closed" in repr(client)
    assert not [t for t in threading.enumerate() if t.name.startswith("dingnotify.sync")]


def test_close_lets_a_call_in_flight_on_another_thread_finish() -> None:
    started = threading.Event()

    async def slow(request: MockRequest) -> MockResponse:
        if request.url.path == GETTOKEN:
            return MockResponse(json={"errcode": 0, "access_token": "t", "expires_in": 7200})
        started.set()
        await asyncio.sleep(0.3)
        return ok(task_id=9)

    client = DingTalkClient(APP_KEY, APP_SECRET, agent_id=1, base_url=BASE, quota=None,
                            transport=MockTransport(slow))
    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(client.work_notice.send, Text(content="hi"), userids=["u1"])
        assert started.wait(10)
        client.close()
        assert sending.result(10) == 9
    with pytest.raises(ClientClosedError):
        client.work_notice.send(Text(content="hi"), userids=["u1"])


async def test_a_call_from_a_running_event_loop_points_to_the_async_client() -> None:
    client = _client(Scripted())
    try:
        with pytest.raises(RunningLoopError, match="async client"):
            client.work_notice.send(Text(content="hi"), userids=["u1"])
    finally:
        await asyncio.to_thread(client.close)


def test_a_callback_on_the_loop_calling_the_client_is_refused_not_deadlocked() -> None:
    handler = Scripted().route(SEND, ok(task_id=1))
    errors: list[BaseException] = []
    with _client(handler) as client:

        def on_event(event: object) -> None:
            try:
                client.get_access_token()
            except RunningLoopError as error:
                errors.append(error)

        client.work_notice.broadcast(Text(content="hi"), userids=["u1"], on_event=on_event)
    assert errors


def test_robot_and_webhook_robot_and_top() -> None:
    def webhook(request: MockRequest) -> MockResponse:
        return MockResponse(json={"errcode": 0, "errmsg": "ok"})

    with WebhookRobot("https://oapi.dingtalk.com/robot/send?access_token=abc", secret="SEC1",
                      transport=MockTransport(webhook)) as robot:
        assert robot.send(WebhookText(content="x")) == 1
        assert robot.prepare(WebhookText(content="x"))[0].startswith(b"{")
        assert "abc" not in repr(robot)

    def v1(request: MockRequest) -> MockResponse:
        if request.url.path.endswith("accessToken"):
            return MockResponse(json={"accessToken": "t", "expireIn": 7200})
        return MockResponse(json={"processQueryKey": "q", "invalidStaffIdList": []})

    with DingTalkClient(APP_KEY, APP_SECRET, robot_code="r", quota=None,
                        transport=MockTransport(v1)) as client:
        result = client.robot.send(SampleText(content="hi"), userids=["u1"])
        assert isinstance(result, RobotSendResult) and result.process_query_key == "q"

    def gateway(request: MockRequest) -> MockResponse:
        return MockResponse(json={"alibaba_a_b_response": {"ok": True}})

    with TopClient(APP_KEY, APP_SECRET, transport=MockTransport(gateway)) as top:
        assert top.execute("alibaba.a.b") == {"ok": True}


def test_interpreter_exit_closes_the_client() -> None:
    """No "Unclosed client session" and no hang: the finalizer closes it at exit."""
    program = ("from dingnotify.sync import DingTalkClient\n"
               "from dingnotify.testing import MockTransport, MockResponse\n"
               "def h(r):\n"
               "    return MockResponse(json={'errcode': 0, 'access_token': 't',"
               " 'expires_in': 7200})\n"
               "c = DingTalkClient('k', 's', transport=MockTransport(h))\n"
               "print(c.get_access_token())\n"
               "c2 = DingTalkClient('k', 's', base_url='http://127.0.0.1:9')\n"
               "c2.async_client\n")
    done = subprocess.run([sys.executable, "-W", "error", "-c", program], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "t\n" and done.stderr == ""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_builds_a_client_of_its_own() -> None:
    """gunicorn --preload: the parent's loop thread and pool do not exist in the child."""
    program = ("import os\n"
               "from dingnotify.sync import DingTalkClient\n"
               "from dingnotify.testing import MockTransport, MockResponse\n"
               "def h(r):\n"
               "    return MockResponse(json={'errcode': 0, 'access_token': str(os.getpid()),"
               " 'expires_in': 7200})\n"
               "c = DingTalkClient('k', 's', transport=MockTransport(h))\n"
               "parent = c.async_client\n"
               "assert c.get_access_token() == str(os.getpid())\n"
               "pid = os.fork()\n"
               "if pid == 0:\n"
               "    ok = c.get_access_token() == str(os.getpid())\n"
               "    ok = ok and c.async_client is not parent\n"
               "    c.close()\n"
               "    os._exit(0 if ok else 1)\n"
               "_, status = os.waitpid(pid, 0)\n"
               "print(os.waitstatus_to_exitcode(status), c.async_client is parent)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout == "0 True\n", done.stderr


def test_a_stopped_loop_thread_never_starts_again() -> None:
    """A call racing close() (past the closed check, before the loop) gets
    ClientClosedError instead of a fresh loop thread that nobody would stop."""
    from dingnotify.sync._loop import LoopThread

    loop = LoopThread("dingnotify.sync.test")
    assert loop.call(lambda: 41 + 1) == 42
    loop.stop()
    with pytest.raises(ClientClosedError):
        loop.call(lambda: 0)
    assert not [t for t in threading.enumerate() if t.name == "dingnotify.sync.test"]
