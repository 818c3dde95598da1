"""Any input either becomes a request within every DingTalk limit, or a ValidationError
raised before anything is sent. No other exception type escapes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dingnotify
from dingnotify import (
    OA,
    ActionCard,
    ActionCardButton,
    File,
    Image,
    Link,
    Markdown,
    OABody,
    OAFormItem,
    OAHead,
    Text,
    ValidationError,
    Voice,
)
from dingnotify.testing import MockRequest, MockResponse, MockTransport

# Text with non-BMP characters, control characters and sizes around the 2048-byte limit.
texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0x10000, max_codepoint=0x1FFFF), max_size=600),
    st.integers(min_value=1900, max_value=2100).map(lambda n: "a" * n),
    st.integers(min_value=600, max_value=720).map(lambda n: "钉" * n),
)
valid = st.text(min_size=1, max_size=60).filter(str.strip)
# Valid values dominate so that most examples reach the wire and meet the limit checks.
anything = st.one_of(valid, valid, valid, texts, st.integers(), st.none(), st.booleans())

messages: st.SearchStrategy[Callable[[], Any]] = st.one_of(
    st.builds(lambda c: lambda: Text(content=c), valid),
    st.builds(lambda a, b: lambda: Markdown(title=a, text=b), valid, valid),
    st.builds(lambda c: lambda: Text(content=c), anything),
    st.builds(lambda m: lambda: Image(media_id=m), anything),
    st.builds(lambda m, d: lambda: Voice(media_id=m, duration=d), anything,
              st.one_of(st.integers(min_value=-1, max_value=61), anything)),
    st.builds(lambda m: lambda: File(media_id=m), anything),
    st.builds(lambda a, b, c, d: lambda: Link(message_url=a, pic_url=b, title=c, text=d),
              texts, texts, texts, anything),
    st.builds(lambda a, b: lambda: Markdown(title=a, text=b), texts, anything),
    st.builds(
        lambda url, color, head, k, v: lambda: OA(
            message_url=url, head=OAHead(bgcolor=color, text=head),
            body=OABody(form=(OAFormItem(key=k, value=v),))),
        texts, st.sampled_from(["FFBBBBBB", "red", "", "ffffffff"]), texts, anything, anything),
    st.builds(
        lambda t, m, st_, su, o, b: lambda: ActionCard(
            title=t, markdown=m, single_title=st_, single_url=su, btn_orientation=o,
            btn_json_list=b),
        texts, texts, st.one_of(st.none(), texts), st.one_of(st.none(), texts),
        st.sampled_from([None, "0", "1", "2"]),
        st.one_of(st.none(), st.lists(st.builds(
            lambda a, b: ActionCardButton(title=a, action_url=b), st.just("b"), st.just("u")),
            max_size=3).map(tuple))),
)
good_userid = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)
userid = st.one_of(st.text(max_size=70), st.integers(), st.none(), st.just("a,b"))
userid_lists = st.one_of(
    st.lists(good_userid, max_size=8),
    st.lists(good_userid, max_size=8),
    st.lists(st.one_of(good_userid, userid), max_size=5),
    st.lists(st.from_regex(r"u[0-9]{1,4}", fullmatch=True), min_size=95, max_size=110),
    good_userid,  # one bare string: never split into characters, always rejected
)
dept_lists = st.one_of(
    st.lists(st.integers(min_value=1, max_value=10**6), max_size=3),
    st.lists(st.integers(min_value=1, max_value=10**6), max_size=3),
    st.lists(st.integers(min_value=1, max_value=10**6), max_size=3),
    st.lists(st.one_of(st.integers(min_value=-3, max_value=10**12), st.booleans(),
                       st.text(max_size=4)), max_size=4),
    st.lists(st.integers(min_value=1, max_value=10**6), min_size=15, max_size=30),
)


def attempt(build: Callable[[], Any], userids: list[Any] | str, depts: list[Any],
            to_all: bool) -> list[bytes]:
    sent: list[bytes] = []

    def capture(request: MockRequest) -> MockResponse:
        if request.url.path == "/gettoken":
            return MockResponse(json={"errcode": 0, "access_token": "t", "expires_in": 7200})
        assert request.content is not None
        sent.append(request.content)
        return MockResponse(json={"errcode": 0, "task_id": 1})

    async def run() -> None:
        async with dingnotify.DingTalkClient("k", "s", agent_id=7,
                                             base_url="http://127.0.0.1:9",
                                             transport=MockTransport(capture)) as client:
            await client.work_notice.send(build(), userids=userids,  # type: ignore[arg-type]
                                          dept_ids=depts, to_all_user=to_all)

    try:
        asyncio.run(run())
    except ValidationError:
        assert sent == [], "a request went out although the input was rejected"
    return sent


outcomes = {"sent": 0, "rejected": 0}


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(messages, userid_lists, dept_lists, st.booleans())
def test_send_input_is_sent_within_limits_or_rejected(
    build: Callable[[], Any], userids: list[Any] | str, depts: list[Any], to_all: bool
) -> None:
    sent = attempt(build, userids, depts, to_all)
    outcomes["sent" if sent else "rejected"] += 1
    if isinstance(userids, str):
        assert not sent, "a bare string was taken for a list of userids"
    if not sent:
        return
    body = json.loads(sent[0])
    users = body.get("userid_list", "").split(",") if "userid_list" in body else []
    dept_ids = body.get("dept_id_list", "").split(",") if "dept_id_list" in body else []
    assert len(users) <= 100 and len(dept_ids) <= 20
    assert users or dept_ids or body.get("to_all_user") is True
    assert all(u and "," not in u for u in users)
    assert all(d.isdigit() and int(d) > 0 for d in dept_ids)
    msg = json.dumps(body["msg"], ensure_ascii=False, separators=(",", ":")).encode()
    assert len(msg) <= 2048
    kind = body["msg"]["msgtype"]
    assert set(body["msg"]) == {"msgtype", kind}
    assert body["agent_id"] == 7


def test_the_property_exercised_both_outcomes() -> None:
    """Guards the property above against strategies that only ever produce rejections."""
    if sum(outcomes.values()) < 100:  # run alone: generate a sample here
        test_send_input_is_sent_within_limits_or_rejected()
    assert outcomes["sent"] >= 10 and outcomes["rejected"] >= 10, outcomes
