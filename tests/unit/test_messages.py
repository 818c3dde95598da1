"""Wire form of every message type: keys exactly DingTalk's, msgtype only at the top."""

from __future__ import annotations

import json

import pytest

from dingnotify import (
    OA,
    ActionCard,
    ActionCardButton,
    File,
    Image,
    Link,
    Markdown,
    MessageTooLargeError,
    OABody,
    OAFormItem,
    OAHead,
    OARich,
    OAStatusBar,
    Text,
    ValidationError,
    Voice,
    encode_msg,
    message_from_dict,
)

CASES = [
    (Text(content="你好 hi"), {"msgtype": "text", "text": {"content": "你好 hi"}}),
    (Image(media_id="@lADOimg"), {"msgtype": "image", "image": {"media_id": "@lADOimg"}}),
    (
        Voice(media_id="@lAXvoice", duration=10),
        {"msgtype": "voice", "voice": {"media_id": "@lAXvoice", "duration": "10"}},
    ),
    (File(media_id="@lAXfile"), {"msgtype": "file", "file": {"media_id": "@lAXfile"}}),
    (
        Link(message_url="https://e.x/a", pic_url="@lADOpic", title="T", text="body"),
        {
            "msgtype": "link",
            "link": {"messageUrl": "https://e.x/a", "picUrl": "@lADOpic", "title": "T",
                     "text": "body"},
        },
    ),
    (
        Markdown(title="Title", text="# hello"),
        {"msgtype": "markdown", "markdown": {"title": "Title", "text": "# hello"}},
    ),
    (
        OA(
            message_url="https://e.x/oa",
            pc_message_url="https://e.x/pc",
            head=OAHead(bgcolor="FFBBBBBB", text="head"),
            status_bar=OAStatusBar(status_value="pending", status_bg="0xFF78C06E"),
            body=OABody(
                title="t",
                form=(OAFormItem(key="k:", value="v"),),
                rich=OARich(num="15.6", unit="元"),
                content="c",
                image="@lADOx",
                file_count="3",
                author="me",
            ),
        ),
        {
            "msgtype": "oa",
            "oa": {
                "message_url": "https://e.x/oa",
                "head": {"bgcolor": "FFBBBBBB", "text": "head"},
                "body": {
                    "title": "t",
                    "form": [{"key": "k:", "value": "v"}],
                    "rich": {"num": "15.6", "unit": "元"},
                    "content": "c",
                    "image": "@lADOx",
                    "file_count": "3",
                    "author": "me",
                },
                "pc_message_url": "https://e.x/pc",
                "status_bar": {"status_value": "pending", "status_bg": "0xFF78C06E"},
            },
        },
    ),
    (
        ActionCard(title="t", markdown="m", single_title="Go", single_url="https://e.x"),
        {
            "msgtype": "action_card",
            "action_card": {"title": "t", "markdown": "m", "single_title": "Go",
                            "single_url": "https://e.x"},
        },
    ),
    (
        ActionCard(
            title="t", markdown="m", btn_orientation="1",
            btn_json_list=(ActionCardButton(title="A", action_url="https://a"),
                           ActionCardButton(title="B", action_url="https://b")),
        ),
        {
            "msgtype": "action_card",
            "action_card": {
                "title": "t", "markdown": "m", "btn_orientation": "1",
                "btn_json_list": [{"title": "A", "action_url": "https://a"},
                                  {"title": "B", "action_url": "https://b"}],
            },
        },
    ),
]


@pytest.mark.parametrize(("message", "wire"), CASES, ids=lambda v: type(v).__name__)
def test_wire_form_is_exact(message: object, wire: dict[str, object]) -> None:
    encoded = encode_msg(message)  # type: ignore[arg-type]
    assert json.loads(encoded) == wire
    kind = wire["msgtype"]
    assert "msgtype" not in json.loads(encoded)[kind]
    assert message_from_dict(wire) == message


def test_structs_are_frozen() -> None:
    msg = Text(content="x")
    with pytest.raises(AttributeError):
        msg.content = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    "build",
    [
        lambda: Text(content=""),
        lambda: Text(content="   "),
        lambda: Image(media_id=""),
        lambda: Voice(media_id="m", duration=0),
        lambda: Voice(media_id="m", duration=61),
        lambda: Voice(media_id="m", duration=True),
        lambda: Link(message_url="u", pic_url="", title="t", text="x"),
        lambda: Markdown(title="t", text=""),
        lambda: OAHead(bgcolor="red", text="x"),
        lambda: OA(message_url="", head=OAHead(bgcolor="FFBBBBBB", text="x"), body=OABody()),
        lambda: ActionCard(title="t", markdown="m"),
        lambda: ActionCard(title="t", markdown="m", single_title="a"),
        lambda: ActionCard(title="t", markdown="m", single_title="a", single_url="u",
                           btn_orientation="0",
                           btn_json_list=(ActionCardButton(title="a", action_url="b"),)),
        lambda: ActionCard(title="t", markdown="m", btn_orientation="0", btn_json_list=()),
    ],
)
def test_invalid_messages_raise_validation_error(build: object) -> None:
    with pytest.raises(ValidationError):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    "build",
    [
        lambda: OABody(title=5),
        lambda: OABody(form=[{"key": "k", "value": "v"}]),
        lambda: OABody(form=(OAFormItem(key="k", value=3),)),
        lambda: OABody(rich="15"),
        lambda: OA(message_url="u", head={"bgcolor": "FFBBBBBB", "text": "x"}, body=OABody()),
        lambda: OA(message_url="u", head=OAHead(bgcolor="FFBBBBBB", text="x"), body=None),
        lambda: OAStatusBar(status_value=1),
        lambda: ActionCard(title="t", markdown="m", btn_orientation="0",
                           btn_json_list=({"title": "a", "action_url": "b"},)),
        lambda: ActionCard(title="t", markdown="m", single_title=1, single_url="u"),
    ],
)
def test_wrong_field_types_are_caught_on_construction(build: object) -> None:
    with pytest.raises(ValidationError):
        build()  # type: ignore[operator]


def test_2048_byte_limit_counts_utf8_bytes_of_the_whole_msg() -> None:
    overhead = len(encode_msg(Text(content="a"))) - 1
    fits = Text(content="a" * (2048 - overhead))
    assert len(encode_msg(fits)) == 2048
    with pytest.raises(MessageTooLargeError):
        encode_msg(Text(content="a" * (2049 - overhead)))
    # 3-byte UTF-8 characters count three times.
    with pytest.raises(MessageTooLargeError):
        encode_msg(Text(content="钉" * 700))


def test_message_from_dict_rejects_unknown_and_malformed() -> None:
    with pytest.raises(ValidationError):
        message_from_dict({"msgtype": "sms", "sms": {}})
    with pytest.raises(ValidationError):
        message_from_dict({"msgtype": "text"})
    with pytest.raises(ValidationError):
        message_from_dict({"msgtype": "text", "text": {"content": ""}})
