"""Every message type and every delivery rule, driven through DingTalkClient."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dingnotify import (
    OA,
    ActionCard,
    ActionCardButton,
    DingTalkClient,
    File,
    Image,
    Link,
    Markdown,
    Message,
    OABody,
    OAFormItem,
    OAHead,
    OARich,
    OAStatusBar,
    Text,
    Voice,
)
from dingnotify.testing import Dept, Emulator, ManualClock, Org, User
from tests.emulated import client_for

SEND = "/topapi/message/corpconversation/asyncsend_v2"
MEDIA = "@lADOdvRYes0CbM0CbA"  # the seed doc's id shape: counts as already uploaded

WIRE: list[tuple[Message, dict[str, Any]]] = [
    (Text(content="你好 🌏"), {"msgtype": "text", "text": {"content": "你好 🌏"}}),
    (Image(media_id=MEDIA), {"msgtype": "image", "image": {"media_id": MEDIA}}),
    (Voice(media_id=MEDIA, duration=7),
     {"msgtype": "voice", "voice": {"media_id": MEDIA, "duration": "7"}}),
    (File(media_id=MEDIA), {"msgtype": "file", "file": {"media_id": MEDIA}}),
    (Link(message_url="https://e.com/x", pic_url=MEDIA, title="T", text="body"),
     {"msgtype": "link", "link": {"messageUrl": "https://e.com/x", "picUrl": MEDIA,
                                  "title": "T", "text": "body"}}),
    (Markdown(title="md", text="# h\n*x*"),
     {"msgtype": "markdown", "markdown": {"title": "md", "text": "# h\n*x*"}}),
    (OA(message_url="https://e.com/oa", pc_message_url="https://e.com/pc",
        head=OAHead(bgcolor="FFBBBBBB", text="head"),
        body=OABody(title="t", form=(OAFormItem(key="k:", value="v"),),
                    rich=OARich(num="15.6", unit="元"), content="c", image=MEDIA,
                    file_count="3", author="me"),
        status_bar=OAStatusBar(status_value="进行中", status_bg="0xFFF65E5E")),
     {"msgtype": "oa", "oa": {
         "message_url": "https://e.com/oa", "pc_message_url": "https://e.com/pc",
         "head": {"bgcolor": "FFBBBBBB", "text": "head"},
         "body": {"title": "t", "form": [{"key": "k:", "value": "v"}],
                  "rich": {"num": "15.6", "unit": "元"}, "content": "c", "image": MEDIA,
                  "file_count": "3", "author": "me"},
         "status_bar": {"status_value": "进行中", "status_bg": "0xFFF65E5E"}}}),
    (ActionCard(title="ac", markdown="m", single_title="go", single_url="https://e.com/s"),
     {"msgtype": "action_card", "action_card": {
         "title": "ac", "markdown": "m", "single_title": "go",
         "single_url": "https://e.com/s"}}),
    (ActionCard(title="ac2", markdown="m2", btn_orientation="1", btn_json_list=(
        ActionCardButton(title="a", action_url="https://e.com/a"),
        ActionCardButton(title="b", action_url="https://e.com/b"))),
     {"msgtype": "action_card", "action_card": {
         "title": "ac2", "markdown": "m2", "btn_orientation": "1", "btn_json_list": [
             {"title": "a", "action_url": "https://e.com/a"},
             {"title": "b", "action_url": "https://e.com/b"}]}}),
]




@pytest.fixture
async def client(emu: Emulator, clock: ManualClock) -> AsyncIterator[DingTalkClient]:
    async with client_for(emu, clock) as c:
        yield c


def sends(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.path == SEND]


@pytest.mark.parametrize(("message", "wire"), WIRE, ids=[f"{m.msgtype}-{i}"
                                                         for i, (m, _) in enumerate(WIRE)])
async def test_message_type_wire_json_and_inbox(emu: Emulator, client: DingTalkClient,
                                                message: Message, wire: dict[str, Any]) -> None:
    task_id = await client.work_notice.send(message, userids=["u000001", "u000002"])
    [request] = sends(emu)
    body = json.loads(request.body)
    assert body == {"agent_id": emu.app.agent_id, "userid_list": "u000001,u000002",
                    "msg": wire}
    assert request.headers["Content-Type"].startswith("application/json")
    for uid in ("u000001", "u000002"):
        [inbox] = emu.inboxes[uid]
        assert (inbox.task_id, inbox.msg, inbox.msgtype) == (task_id, wire, message.msgtype)


async def test_invalid_users_and_depts_are_reported(emu: Emulator,
                                                    client: DingTalkClient) -> None:
    task_id = await client.work_notice.send(
        Text(content="x"), userids=["u000001", "nobody"], dept_ids=[424242])
    result = await client.work_notice.get_result(task_id)
    assert result.invalid_userids == ["nobody"]
    assert result.invalid_dept_ids == [424242]
    assert result.unread_userids == ["u000001"]
    assert "nobody" not in emu.inboxes


async def test_dept_expands_to_the_whole_subtree(clock: ManualClock) -> None:
    org = Org(depts={1: Dept(1, None, "root"), 2: Dept(2, 1, "a"), 3: Dept(3, 2, "b"),
                     4: Dept(4, 1, "c")})
    for uid, dept in (("top", 1), ("a1", 2), ("b1", 3), ("b2", 3), ("c1", 4)):
        org.add_user(User(uid, f"1380000{len(org.users):04d}", (dept,)))
    async with Emulator(org=org, clock=clock) as emu, client_for(emu, clock) as client:
        task_id = await client.work_notice.send(Text(content="d"), userids=["b1"], dept_ids=[2])
        assert emu.tasks[task_id].delivered == {"a1", "b1", "b2"}
        assert sorted(emu.inboxes) == ["a1", "b1", "b2"]  # each exactly once
        assert all(len(box) == 1 for box in emu.inboxes.values())
        result = await client.work_notice.get_result(task_id)
        assert sorted(result.unread_userids) == ["a1", "b1", "b2"]


async def test_same_content_same_day_forbidden_next_day_ok(
        emu: Emulator, client: DingTalkClient, clock: ManualClock) -> None:
    first = await client.work_notice.send(Text(content="daily"), userids=["u000001"])
    second = await client.work_notice.send(Text(content="daily"), userids=["u000001"])
    other = await client.work_notice.send(Text(content="other"), userids=["u000001"])
    repeat = await client.work_notice.get_result(second)
    assert repeat.forbidden_userids == ["u000001"]
    assert [(f.userid, f.code, f.count) for f in repeat.forbidden] == [("u000001", "143105", 1)]
    assert emu.duplicates_dropped == 1
    assert [m.task_id for m in emu.inboxes["u000001"]] == [first, other]
    clock.advance(86_400)
    third = await client.work_notice.send(Text(content="daily"), userids=["u000001"])
    assert (await client.work_notice.get_result(third)).forbidden_userids == []
    assert [m.task_id for m in emu.inboxes["u000001"]] == [first, other, third]


async def test_500_messages_per_user_per_day(clock: ManualClock) -> None:
    async with Emulator(org=Org.synthetic(n_users=2), clock=clock) as emu, \
            client_for(emu, clock) as client:
        for i in range(500):
            await client.work_notice.send(Text(content=f"n{i}"), userids=["u000001"])
        over = await client.work_notice.send(Text(content="n500"), userids=["u000001",
                                                                           "u000002"])
        result = await client.work_notice.get_result(over)
        assert result.forbidden_userids == ["u000001"]
        assert [(f.code, f.count) for f in result.forbidden] == [("143106", 500)]
        assert len(emu.inboxes["u000001"]) == 500 and len(emu.inboxes["u000002"]) == 1
        clock.advance(86_400)
        again = await client.work_notice.send(Text(content="n500"), userids=["u000001"])
        assert emu.tasks[again].delivered == {"u000001"}


async def test_to_all_user_three_times_a_day(clock: ManualClock) -> None:
    async with Emulator(org=Org.synthetic(n_users=5), clock=clock) as emu, \
            client_for(emu, clock) as client:
        ids = [await client.work_notice.send(Text(content=f"all {i}"), to_all_user=True)
               for i in range(4)]
        assert json.loads(sends(emu)[0].body)["to_all_user"] in (True, "true")
        assert all(len(emu.tasks[t].delivered) == 5 for t in ids[:3])
        fourth = await client.work_notice.get_result(ids[3])
        assert len(fourth.forbidden_userids) == 5
        assert {(f.code, f.count) for f in fourth.forbidden} == {("143107", 3)}
        assert all(len(box) == 3 for box in emu.inboxes.values())
        clock.advance(86_400)
        fifth = await client.work_notice.send(Text(content="all 4"), to_all_user=True)
        assert len(emu.tasks[fifth].delivered) == 5
