"""DingTalkClient against the emulator: every endpoint, through the public API only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dingnotify import (
    OA,
    CrossDomainMessage,
    DingTalkClient,
    File,
    Image,
    InvalidArgumentError,
    Message,
    MessageReceiverScope,
    NotFoundError,
    OABody,
    OAHead,
    OAStatusBar,
    SendMessageModel,
    Text,
    Voice,
)
from dingnotify.testing import Emulator, ManualClock, Org
from tests.emulated import client_for

SEND = "/topapi/message/corpconversation/asyncsend_v2"




@pytest.fixture
async def client(emu: Emulator, clock: ManualClock) -> AsyncIterator[DingTalkClient]:
    async with client_for(emu, clock) as c:
        yield c


async def test_gettoken_is_fetched_once_and_reused(emu: Emulator, client: DingTalkClient) -> None:
    token = await client.get_access_token()
    assert token == await client.get_access_token()
    assert emu.count("/gettoken") == 1 and client.token_refreshes == 1
    gettoken = next(r for r in emu.requests if r.path == "/gettoken")
    assert gettoken.query == {"appkey": emu.app.app_key, "appsecret": emu.app.app_secret}
    assert (gettoken.response or {})["access_token"] == token


async def test_get_by_mobile_both_versions(emu: Emulator, client: DingTalkClient) -> None:
    user = next(iter(emu.org.users.values()))
    assert await client.users.get_by_mobile(user.mobile) == user.userid
    lookup = await client.users.get_by_mobile_v2(user.mobile)
    assert lookup.userid == user.userid
    v2 = next(r for r in emu.requests if r.path == "/topapi/v2/user/getbymobile")
    assert v2.json == {"mobile": user.mobile}
    assert emu.count("/gettoken") == 1


@pytest.mark.parametrize("v2", [False, True])
async def test_unknown_mobile_is_not_found(client: DingTalkClient, v2: bool) -> None:
    with pytest.raises(NotFoundError) as info:
        if v2:
            await client.users.get_by_mobile_v2("19999999999")
        else:
            await client.users.get_by_mobile("19999999999")
    assert info.value.effective_code == 60121
    assert not info.value.retryable


async def test_send_progress_advances_with_the_clock(clock: ManualClock) -> None:
    async with Emulator(clock=clock, progress_seconds=10) as emu, \
            client_for(emu, clock) as client:
        task_id = await client.work_notice.send(Text(content="p"), userids=["u000001"])
        assert task_id in emu.tasks
        first = await client.work_notice.get_progress(task_id)
        assert (first.percent, first.status) == (0, 0) and not first.done
        clock.advance(4)
        middle = await client.work_notice.get_progress(task_id)
        assert (middle.percent, middle.status) == (40, 1)
        clock.advance(6)
        done = await client.work_notice.get_progress(task_id)
        assert (done.percent, done.status) == (100, 2) and done.done


@pytest.mark.parametrize("as_strings", [False, True])
async def test_get_result_arrays_and_comma_strings(clock: ManualClock, as_strings: bool) -> None:
    async with Emulator(clock=clock, read_ratio=0.5, seed=3,
                        result_lists_as_strings=as_strings) as emu, \
            client_for(emu, clock) as client:
        users = [f"u{i:06d}" for i in range(1, 21)]
        task_id = await client.work_notice.send(
            Text(content="r"), userids=[*users, "ghost1", "ghost2"], dept_ids=[987654])
        result = await client.work_notice.get_result(task_id)
        raw = next(r for r in emu.requests if r.path.endswith("getsendresult")).response
        lists = (raw or {})["send_result"]
        assert isinstance(lists["read_user_id_list"], str if as_strings else list)
        assert sorted(result.invalid_userids) == ["ghost1", "ghost2"]
        assert result.invalid_dept_ids == [987654]
        assert sorted(result.read_userids + result.unread_userids) == users
        assert 0 < len(result.read_userids) < 20
        assert set(result.read_userids) == {u for u in users if emu.inboxes[u][0].read}
        assert result.forbidden_userids == [] and result.failed_userids == []


async def test_recall_removes_from_inboxes(emu: Emulator, client: DingTalkClient) -> None:
    task_id = await client.work_notice.send(Text(content="oops"), userids=["u000001", "u000002"])
    assert len(emu.inboxes["u000001"]) == 1
    await client.work_notice.recall(task_id)
    assert emu.inboxes["u000001"] == [] and emu.inboxes["u000002"] == []
    assert emu.tasks[task_id].recalled
    recall = next(r for r in emu.requests if r.path.endswith("/recall"))
    assert recall.json == {"agent_id": emu.app.agent_id, "msg_task_id": task_id}


async def test_unknown_task_id_is_invalid_argument(client: DingTalkClient) -> None:
    with pytest.raises(InvalidArgumentError):
        await client.work_notice.get_progress(123)


async def test_media_upload_then_messages_reference_it(emu: Emulator,
                                                       client: DingTalkClient) -> None:
    image = await client.media.upload(b"\x89PNG fake", media_type="image", filename="a.png")
    voice = await client.media.upload(b"#!AMR fake", media_type="voice", filename="v.amr")
    doc = await client.media.upload(b"%PDF fake", media_type="file", filename="r.pdf")
    assert len({image, voice, doc}) == 3
    uploads = [r for r in emu.requests if r.path == "/media/upload"]
    assert [r.query["type"] for r in uploads] == ["image", "voice", "file"]
    oa = OA(message_url="https://example.com/oa", head=OAHead(bgcolor="FFBBBBBB", text="h"),
            body=OABody(title="t", content="c", image=image),
            status_bar=OAStatusBar(status_value="pending", status_bg="0xFFF65E5E"))
    messages: list[Message] = [Image(media_id=image), Voice(media_id=voice, duration=10),
                               File(media_id=doc), oa]
    for n, message in enumerate(messages):
        await client.work_notice.send(message, userids=[f"u00000{n + 1}"])
    assert emu.inboxes["u000001"][0].msg == {"msgtype": "image", "image": {"media_id": image}}
    assert emu.inboxes["u000002"][0].msg == {
        "msgtype": "voice", "voice": {"media_id": voice, "duration": "10"}}
    assert emu.inboxes["u000003"][0].msg == {"msgtype": "file", "file": {"media_id": doc}}
    assert emu.inboxes["u000004"][0].msg["oa"]["body"]["image"] == image


async def test_status_bar_update(emu: Emulator, client: DingTalkClient) -> None:
    oa = OA(message_url="https://example.com/oa", head=OAHead(bgcolor="FFBBBBBB", text="h"),
            body=OABody(content="approve?"), status_bar=OAStatusBar(status_value="pending"))
    task_id = await client.work_notice.send(oa, userids=["u000001"])
    await client.work_notice.update_status_bar(task_id, "approved", status_bg="0xFF78C06E")
    assert emu.tasks[task_id].status_value == "approved"
    assert emu.tasks[task_id].status_bg == "0xFF78C06E"


@pytest.mark.parametrize("message", [
    Image(media_id="@never-uploaded"), Voice(media_id="nope", duration=3), File(media_id="x"),
])
async def test_unknown_media_id_is_rejected(emu: Emulator, client: DingTalkClient,
                                            message: Image | Voice | File) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        await client.work_notice.send(message, userids=["u000001"])
    assert info.value.effective_code == 40035
    assert info.value.request_id is not None
    assert emu.tasks == {} and emu.inboxes == {}


async def test_impaas_send_crossdomain(emu: Emulator, client: DingTalkClient) -> None:
    message = CrossDomainMessage(
        sender="u000001", message_id="m-1",
        send_message_model=SendMessageModel(conversation_type=1, uuid="uu-1", content_type=1,
                                            content={"text": "hi"}, cid="cid-1"),
        message_receiver_scope_model=MessageReceiverScope(actual_receivers=("u000002",)),
    )
    request_id = await client.impaas.send_crossdomain(message)
    assert request_id
    [stored] = emu.crossdomain_messages
    assert stored.app_key == emu.app.app_key
    assert stored.model["sender"] == "u000001"
    assert stored.model["send_message_model"]["content"] == '{"text":"hi"}'


async def test_plugin_client_fixture(dingtalk_emulator: Emulator,
                                     dingtalk_client: DingTalkClient) -> None:
    org_user = next(iter(dingtalk_emulator.org.users))
    task_id = await dingtalk_client.work_notice.send(Text(content="fixture"), userids=[org_user])
    assert dingtalk_emulator.tasks[task_id].delivered == {org_user}


def test_org_helper_sizes() -> None:
    assert len(Org.synthetic(n_users=7).users) == 7
