"""Exact wire bodies for every webhook message type, mentions, and refusals before sending."""

from __future__ import annotations

import json

import pytest

from dingnotify import Governor, Quota, ValidationError
from dingnotify.webhook import (
    ActionCard,
    ActionCardButton,
    FeedCard,
    FeedCardLink,
    Link,
    Markdown,
    Text,
    WebhookMessageTooLargeError,
    WebhookRobot,
)
from tests.unit.webhook_fake import fake_webhook
from tests.unit.webhook_mock import mock_robot, script


def robot() -> WebhookRobot:
    return mock_robot(script(), None)


def body(message: object, **kw: object) -> object:
    [raw] = robot().prepare(message, **kw)  # type: ignore[arg-type]
    return json.loads(raw)


def test_text_with_mentions_appends_missing_mobiles_and_omits_empty_lists() -> None:
    got = body(Text(content="disk full @13800000001"),
               at_mobiles=["13800000001", "13900000002"])
    assert got == {"msgtype": "text",
                   "text": {"content": "disk full @13800000001 @13900000002"},
                   "at": {"atMobiles": ["13800000001", "13900000002"]}}
    assert body(Text(content="hi")) == {"msgtype": "text", "text": {"content": "hi"}}
    assert body(Text(content="hi"), at_all=True) == {
        "msgtype": "text", "text": {"content": "hi"}, "at": {"isAtAll": True}}


def test_markdown_with_userids() -> None:
    assert body(Markdown(title="Deploy", text="### v1.2"), at_userids=["u1"]) == {
        "msgtype": "markdown", "markdown": {"title": "Deploy", "text": "### v1.2\n\n@u1"},
        "at": {"atUserIds": ["u1"]}}


def test_markdown_mentions_mobiles_and_userids_in_its_text() -> None:
    """DingTalk renders a markdown mention only where ``@mobile``/``@userid`` is in the text."""
    got = body(Markdown(title="Deploy", text="### v1.2\n```\nlog\n```"),
               at_mobiles=["13800000001", "13900000002"], at_userids=["manager01"])
    assert got == {"msgtype": "markdown", "markdown": {
        "title": "Deploy",
        "text": "### v1.2\n```\nlog\n```\n\n@13800000001 @13900000002 @manager01"},
        "at": {"atMobiles": ["13800000001", "13900000002"], "atUserIds": ["manager01"]}}
    already = body(Markdown(title="T", text="@13800000001 and @manager01, look"),
                   at_mobiles=["13800000001"], at_userids=["manager01"])
    assert already["markdown"]["text"] == "@13800000001 and @manager01, look"  # type: ignore[index]


def test_text_mentions_userids_once_each() -> None:
    got = body(Text(content="disk full @u1"), at_mobiles=["13800000001", "13800000001"],
               at_userids=["u1", "u2", "u2"])
    assert got == {"msgtype": "text", "text": {"content": "disk full @u1 @13800000001 @u2"},
                   "at": {"atMobiles": ["13800000001", "13800000001"],
                          "atUserIds": ["u1", "u2", "u2"]}}
    # "@u12" and "@138000000012" are other people: not a mention of u1 / 13800000001
    got = body(Text(content="ask @u12 or @138000000012"), at_mobiles=["13800000001"],
               at_userids=["u1"])
    assert got["text"]["content"] == \
        "ask @u12 or @138000000012 @13800000001 @u1"  # type: ignore[index]


def test_split_markdown_mentions_go_into_the_first_part_text_only() -> None:
    original = "\n".join(f"- row {i} " + "x" * 60 for i in range(700))
    raw = robot().prepare(Markdown(title="Report", text=original), at_mobiles=["13800000001"],
                          at_userids=["manager01"], split=True)
    parts = [json.loads(b) for b in raw]
    assert len(parts) >= 3 and all(len(b) <= 20_000 for b in raw)
    assert parts[0]["at"] == {"atMobiles": ["13800000001"], "atUserIds": ["manager01"]}
    assert parts[0]["markdown"]["text"].endswith("\n\n@13800000001 @manager01")
    assert all("at" not in p and "@" not in p["markdown"]["text"] for p in parts[1:])
    text_parts = robot().prepare(Text(content=original), at_userids=["manager01"], split=True)
    first = json.loads(text_parts[0])
    assert first["text"]["content"].endswith(" @manager01")
    assert first["at"] == {"atUserIds": ["manager01"]}


def test_link() -> None:
    assert body(Link(title="t", text="x", message_url="https://m", pic_url="https://p")) == {
        "msgtype": "link",
        "link": {"title": "t", "text": "x", "messageUrl": "https://m", "picUrl": "https://p"}}
    assert body(Link(title="t", text="x", message_url="https://m")) == {
        "msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": "https://m"}}


def test_action_cards() -> None:
    single = ActionCard(title="t", text="x", single_title="Open", single_url="https://s")
    assert body(single) == {"msgtype": "actionCard", "actionCard": {
        "title": "t", "text": "x", "singleTitle": "Open", "singleURL": "https://s"}}
    multi = ActionCard(title="t", text="x", btn_orientation="1", btns=(
        ActionCardButton(title="A", action_url="https://a"),
        ActionCardButton(title="B", action_url="https://b")))
    assert body(multi) == {"msgtype": "actionCard", "actionCard": {
        "title": "t", "text": "x", "btnOrientation": "1",
        "btns": [{"title": "A", "actionURL": "https://a"},
                 {"title": "B", "actionURL": "https://b"}]}}


def test_feed_card() -> None:
    card = FeedCard(links=(FeedCardLink(title="a", message_url="https://m", pic_url="https://p"),))
    assert body(card) == {"msgtype": "feedCard", "feedCard": {
        "links": [{"title": "a", "messageURL": "https://m", "picURL": "https://p"}]}}


def test_bad_cards_are_refused_at_construction() -> None:
    with pytest.raises(ValidationError):
        ActionCard(title="t", text="x")
    with pytest.raises(ValidationError):
        ActionCard(title="t", text="x", single_title="only title")
    with pytest.raises(ValidationError):
        FeedCard(links=())


async def test_mentions_outside_text_and_markdown_send_nothing() -> None:
    async with mock_robot(wire := script()) as r:
        link = Link(title="t", text="x", message_url="https://m")
        for kw in ({"at_mobiles": ["1"]}, {"at_userids": ["u"]}, {"at_all": True}):
            with pytest.raises(ValidationError):
                await r.send(link, **kw)  # type: ignore[arg-type]
        assert wire.requests == []


async def test_oversize_body_is_refused_unless_split() -> None:
    async with mock_robot(wire := script()) as r:
        with pytest.raises(WebhookMessageTooLargeError) as caught:
            await r.send(Text(content="x" * 20_001))
        assert isinstance(caught.value, ValidationError)
        card = ActionCard(title="t", text="x" * 20_001, single_title="a", single_url="u")
        with pytest.raises(WebhookMessageTooLargeError):
            await r.send(card, split=True)
        assert wire.requests == []
        assert await r.send(Text(content="y" * 30_000), split=True) == 2
        assert [len(s.content or b"") <= 20_000 for s in wire.requests] == [True, True]


def test_public_names() -> None:
    import dingnotify.webhook as webhook

    assert set(webhook.__all__) == {n for n in dir(webhook) if not n.startswith("_")} - {
        "annotations"}
    contract = {"WebhookRobot", "Text", "Link", "Markdown", "ActionCard", "ActionCardButton",
                "FeedCard", "FeedCardLink", "WebhookRejectedError", "WebhookHandler"}
    assert contract <= set(webhook.__all__)


async def test_an_injected_session_is_used_and_left_open() -> None:
    import aiohttp

    async with fake_webhook() as fake, aiohttp.ClientSession() as session:
        async with WebhookRobot(fake.url, session=session, governor=Governor(Quota())) as r:
            await r.send(Text(content="x"))
        assert not session.closed
        assert len(fake.seen) == 1
