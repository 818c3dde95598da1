"""Long text and markdown split at line boundaries into ordered parts that each fit."""

from __future__ import annotations

import json
import re

from dingnotify.webhook import Markdown, Text, WebhookRobot
from dingnotify.webhook._split import split_text
from tests.conftest import Scripted
from tests.unit.webhook_mock import mock_robot, script

MARKER = re.compile(r"^\((\d+)/(\d+)\)$")


def markdown_of(size: int, fences: bool) -> str:
    lines: list[str] = []
    i = 0
    while len("\n".join(lines).encode()) < size:
        if fences and i % 40 == 5:
            lines.append("```python")
        elif fences and i % 40 == 35:
            lines.append("```")
        else:
            lines.append(f"- line {i}: 状态 ok \"quoted\" " + "x" * (i % 70))
        i += 1
    return "\n".join(lines)


def unnumbered(text: str, index: int, total: int) -> list[str]:
    lines = text.split("\n")
    assert MARKER.match(lines[0]).groups() == (str(index), str(total))  # type: ignore[union-attr]
    return lines[2:]  # marker line and the blank line after it


def robot(wire: Scripted) -> WebhookRobot:
    return mock_robot(wire, None)


async def test_60k_markdown_arrives_as_ordered_parts_that_fit() -> None:
    original = markdown_of(60_000, fences=False)
    async with robot(wire := script()) as r:
        sent = await r.send(Markdown(title="Report", text=original), split=True)
    assert sent == len(wire.requests) >= 3
    lines: list[str] = []
    for index, seen in enumerate(wire.requests, 1):
        assert len(seen.content or b"") <= 20_000
        part = seen.json["markdown"]
        assert part["title"] == f"Report ({index}/{sent})"
        lines += unnumbered(part["text"], index, sent)
    assert lines == original.split("\n")


async def test_fences_stay_balanced_in_every_part() -> None:
    original = markdown_of(60_000, fences=True)
    async with robot(wire := script()) as r:
        sent = await r.send(Markdown(title="Log", text=original), split=True)
    fenced_parts = 0
    content: list[str] = []
    for index, seen in enumerate(wire.requests, 1):
        assert len(seen.content or b"") <= 20_000
        lines = unnumbered(seen.json["markdown"]["text"], index, sent)
        fences = [line for line in lines if line.startswith("```")]
        assert len(fences) % 2 == 0
        fenced_parts += lines[0].startswith("```") and lines[0] != "```"
        content += [line for line in lines if not line.startswith("```")]
    assert fenced_parts >= 1  # some cut fell inside a code block and was reopened
    assert content == [line for line in original.split("\n") if not line.startswith("```")]


async def test_text_split_and_a_single_overlong_line_is_cut_hard() -> None:
    original = "short line\n" + "é" * 25_000 + "\nlast line"
    async with robot(wire := script()) as r:
        sent = await r.send(Text(content=original), at_mobiles=["13800000001"], split=True)
    parts = [s.json for s in wire.requests]
    assert sent == len(parts) >= 2
    assert all(len(s.content or b"") <= 20_000 for s in wire.requests)
    assert parts[0]["at"] == {"atMobiles": ["13800000001"]}
    assert all("at" not in p for p in parts[1:])
    texts = [p["text"]["content"].split("\n", 1)[1] for p in parts]
    texts[0] = texts[0].removesuffix(" @13800000001")
    assert "".join(t if i == 0 else "\n" + t for i, t in enumerate(texts)).replace(
        "é\né", "éé") == original


def test_split_text_respects_json_escaping_budget() -> None:
    text = "\n".join(['"\\' * 50] * 1000)
    pieces = split_text(text, 5_000)
    assert all(len(json.dumps(p, ensure_ascii=False)) - 2 <= 5_000 for p in pieces)
    assert "\n".join(pieces) == text
