"""Scenario 6: msgspec message encoding vs ``json.dumps`` of the same dict, per type."""

from __future__ import annotations

import json
import timeit
from typing import Any

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
    OARich,
    Text,
    Voice,
    encode_msg,
)

SAMPLES = {
    "text": Text(content="Quarterly all-hands on Friday at 15:00 in the main hall."),
    "image": Image(media_id="@lADOadmin2Bk5PRfm"),
    "voice": Voice(media_id="@lATOadmin3Fv9", duration=12),
    "file": File(media_id="@lAXPDf0i-aScwdDOL8R2ns58ioBS"),
    "link": Link(message_url="https://example.com/notice/42", pic_url="@lADOpic",
                 title="Policy update", text="The travel policy changes on 1 December."),
    "markdown": Markdown(title="Release", text="### v2.4 shipped\n- faster sync\n- fixes"),
    "oa": OA(message_url="https://example.com/approve/9", head=OAHead(bgcolor="FFBBBBBB",
             text="Approval"), body=OABody(title="Expense claim", form=(
                 OAFormItem(key="Applicant:", value="Zhang San"),
                 OAFormItem(key="Amount:", value="1,280.00")),
                 rich=OARich(num="1280", unit="CNY"), content="Taxi and hotel, Shanghai trip",
                 author="Finance")),
    "action_card": ActionCard(title="Vote", markdown="### Lunch on Friday?", btn_orientation="1",
                              btn_json_list=(ActionCardButton(title="Yes", action_url="https://e/y"),
                                             ActionCardButton(title="No", action_url="https://e/n"))),
}


def encoding_rows(number: int) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for kind, message in SAMPLES.items():
        as_dict = json.loads(encode_msg(message))
        ours = min(timeit.repeat(lambda m=message: encode_msg(m), number=number, repeat=3))
        theirs = min(timeit.repeat(lambda d=as_dict: json.dumps(d).encode(), number=number,
                                   repeat=3))
        rows[kind] = {"msgspec_us": ours / number * 1e6, "json_us": theirs / number * 1e6,
                      "ratio": theirs / ours}
    return rows
