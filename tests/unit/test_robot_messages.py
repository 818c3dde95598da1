"""Robot templates: exact ``msgParam`` strings, validation, and lenient answer decoding."""

from __future__ import annotations

import json
from typing import Any

import pytest

import dingnotify.robot as robot
from dingnotify._errors import ResponseDecodeError, ValidationError
from dingnotify.robot import (
    RobotReadStatus,
    RobotRecallResult,
    RobotSendResult,
    SampleActionCard,
    SampleActionCard2,
    SampleActionCard3,
    SampleActionCard4,
    SampleActionCard5,
    SampleAudio,
    SampleFile,
    SampleImageMsg,
    SampleLink,
    SampleMarkdown,
    SampleText,
    SampleVideo,
    encode_msg_param,
    msg_key,
)
from dingnotify.robot import _wire as wire


def _buttons(n: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in range(1, n + 1):
        out[f"action_title_{i}"] = f"B{i}"
        out[f"action_url_{i}"] = f"https://x/{i}"
    return out


def _wire_buttons(n: int) -> str:
    return "".join(f',"actionTitle{i}":"B{i}","actionURL{i}":"https://x/{i}"'
                   for i in range(1, n + 1))


CASES: list[tuple[Any, str, str]] = [
    (SampleText(content="hi 你好"), "sampleText", '{"content":"hi 你好"}'),
    (SampleMarkdown(title="T", text="**x**"), "sampleMarkdown", '{"title":"T","text":"**x**"}'),
    (SampleLink(text="t", title="T", pic_url="@lADO", message_url="https://m"), "sampleLink",
     '{"text":"t","title":"T","picUrl":"@lADO","messageUrl":"https://m"}'),
    (SampleImageMsg(photo_url="https://p.png"), "sampleImageMsg", '{"photoURL":"https://p.png"}'),
    (SampleActionCard(title="T", text="x", single_title="Go", single_url="https://s"),
     "sampleActionCard",
     '{"title":"T","text":"x","singleTitle":"Go","singleURL":"https://s"}'),
    (SampleActionCard2(title="T", text="x", **_buttons(2)), "sampleActionCard2",
     '{"title":"T","text":"x"' + _wire_buttons(2) + "}"),
    (SampleActionCard3(title="T", text="x", **_buttons(3)), "sampleActionCard3",
     '{"title":"T","text":"x"' + _wire_buttons(3) + "}"),
    (SampleActionCard4(title="T", text="x", **_buttons(4)), "sampleActionCard4",
     '{"title":"T","text":"x"' + _wire_buttons(4) + "}"),
    (SampleActionCard5(title="T", text="x", **_buttons(5)), "sampleActionCard5",
     '{"title":"T","text":"x"' + _wire_buttons(5) + "}"),
    (SampleFile(media_id="@m", file_name="a.pdf", file_type="pdf"), "sampleFile",
     '{"mediaId":"@m","fileName":"a.pdf","fileType":"pdf"}'),
    (SampleAudio(media_id="@m", duration=3000), "sampleAudio",
     '{"mediaId":"@m","duration":"3000"}'),
    (SampleVideo(duration="12", video_media_id="@v", video_type="mp4", pic_media_id="@p"),
     "sampleVideo",
     '{"duration":"12","videoMediaId":"@v","videoType":"mp4","picMediaId":"@p"}'),
]


@pytest.mark.parametrize(("msg", "key", "param"), CASES, ids=[c[1] for c in CASES])
def test_exact_msg_param(msg: Any, key: str, param: str) -> None:
    assert msg_key(msg) == key == type(msg).msg_key
    assert encode_msg_param(msg) == param
    assert isinstance(json.loads(param), dict)


def test_templates_are_frozen() -> None:
    msg = SampleText(content="x")
    with pytest.raises(AttributeError):
        msg.content = "y"  # type: ignore[misc]


@pytest.mark.parametrize("build", [
    lambda: SampleText(content=""),
    lambda: SampleText(content="   "),
    lambda: SampleText(content="bad \ud800 surrogate"),
    lambda: SampleText(content=None),  # type: ignore[arg-type]
    lambda: SampleMarkdown(title="T", text=""),
    lambda: SampleLink(text="t", title="T", pic_url="", message_url="m"),
    lambda: SampleImageMsg(photo_url=""),
    lambda: SampleActionCard(title="T", text="x", single_title="Go", single_url=" "),
    lambda: SampleActionCard2(title="T", text="x", **{**_buttons(2), "action_url_2": ""}),
    lambda: SampleFile(media_id="@m", file_name="", file_type="pdf"),
    lambda: SampleAudio(media_id="@m", duration="3s"),
    lambda: SampleAudio(media_id="@m", duration=True),
    lambda: SampleAudio(media_id="@m", duration=-1),
    lambda: SampleVideo(duration="1", video_media_id="@v", video_type="", pic_media_id="@p"),
])
def test_validation_errors(build: Any) -> None:
    with pytest.raises(ValidationError):
        build()


def test_validation_error_names_the_field() -> None:
    with pytest.raises(ValidationError, match=r"sampleLink\.message_url"):
        SampleLink(text="t", title="T", pic_url="p", message_url="")


def test_all_is_complete() -> None:
    public = {n for n in vars(robot) if not n.startswith("_")} - {"annotations"}
    assert set(robot.__all__) == public


def test_decode_send_full_and_empty() -> None:
    body = (b'{"processQueryKey":"k1","invalidStaffIdList":["x"],'
            b'"flowControlledStaffIdList":["u2"],"filteredStaffIdList":["u3"]}')
    assert wire.decode_send(body) == RobotSendResult(
        process_query_key="k1", invalid_userids=["x"], throttled_userids=["u2"],
        filtered_userids=["u3"])
    assert wire.decode_send(b"{}") == RobotSendResult(process_query_key="")
    assert wire.decode_send(b'{"processQueryKey":"k","invalidStaffIdList":null}') == \
        RobotSendResult(process_query_key="k")
    assert wire.decode_group_send(b'{"processQueryKey":"g"}') == "g"
    assert wire.decode_group_send(b"{}") == ""


def test_decode_read_status() -> None:
    body = json.dumps({"sendStatus": "SUCCESS", "messageReadInfoList": [
        {"name": "A", "userId": "u1", "readStatus": "READ", "readTimestamp": 1795312800123},
        {"name": "B", "userId": "u2", "readStatus": "UNREAD"},
        {"userId": "u3"},
        {"name": "no id", "readStatus": "READ", "readTimestamp": 1},
        {"name": "C", "userId": "u4", "readStatus": "READ", "readTimestamp": None},
    ]}).encode()
    assert wire.decode_read_status(body) == RobotReadStatus(
        send_status="SUCCESS", read_userids=["u1", "u4"], unread_userids=["u2", "u3"],
        read_timestamps={"u1": 1795312800123})
    assert wire.decode_read_status(b"{}") == RobotReadStatus(send_status="")


def test_decode_recall() -> None:
    body = b'{"successResult":["k1"],"failedResult":{"k2":"already recalled"}}'
    assert wire.decode_recall(body) == RobotRecallResult(
        recalled=["k1"], failed={"k2": "already recalled"})
    assert wire.decode_recall(b"{}") == RobotRecallResult()


def test_decode_token_and_error() -> None:
    from dingnotify._api import v1_wire as wire

    token = wire.decode_token(b'{"accessToken":"t","expireIn":"7200"}')
    assert (token.access_token, token.expire_in) == ("t", 7200)
    assert wire.decode_token(b"{}").access_token is None
    error = wire.decode_error(b'{"code":"InvalidAuthentication","message":"m","requestid":"r"}')
    assert (error.code, error.message, error.request_id) == ("InvalidAuthentication", "m", "r")
    assert wire.decode_error(b"<html>") == wire.ErrorAnswer()


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"invalidStaffIdList":"u1"}'])
def test_undecodable_answer(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError, match="batchSend"):
        wire.decode_send(body)


def test_emulator_reads_the_same_templates() -> None:
    """Two independent readings of DingTalk's template table must agree key for key."""
    from dingnotify.testing._robot_wire import TEMPLATES

    assert set(TEMPLATES) == {key for _, key, _ in CASES}
    for _, key, param in CASES:
        assert set(json.loads(param)) == TEMPLATES[key], key
