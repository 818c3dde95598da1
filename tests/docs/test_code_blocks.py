"""Every ```python block of README.md and of the guides in docs/ runs, so they cannot rot.

Each block is one test (``README.md:123``), run in a fresh namespace against a fresh
emulator: the clients' default URLs (``base_url``, ``api_base_url``, the TOP ``url``) point
at it, and a ``WebhookRobot`` built without ``transport=`` has its requests carried to
the emulator's group robots whatever host its URL names. A block with top-level ``await``
runs on the test's event loop; any other block runs in a worker thread with no loop (as
sync code does). Clients a block leaves open in its namespace are closed afterwards, log
handlers it adds to the root logger are removed, and environment variables it sets (the
relay's token, as ``export`` would) are restored.

The namespace holds ``PRELUDE`` (names the docs use without defining them):

- ``app_key``, ``app_secret`` (also ``key``, ``secret``): the emulator's app, agent id 123,
  which is also its TOP app;
- ``client``: an open async ``DingTalkClient`` on the emulator (``agent_id=123``,
  ``robot_code="dingxxxx"``, fast retries);
- ``emulator``: the running ``dingnotify.testing.Emulator`` (600 users, departments 1-12);
- ``read_userids()``: an iterator over 250 of its userids; ``any_iterable_or_async_iterable``:
  a list of 30;
- ``url``, ``webhook_url``: a group robot's webhook URL (secret ``"SEC..."``), which is
  also the robot of the literal ``access_token=...`` URL; ``long_report``: 30 KB of text;
- ``my_ssl_context``: ``ssl.create_default_context()``.

A marker on the line before a block changes how it runs (an HTML comment, invisible on
GitHub and in the site):

- ``<!-- docs: skip -- REASON -->``: not run; the reason is required (a fragment, a file of
  another project, a service tests cannot start);
- ``<!-- docs: continue -->``: runs after the previous block of the same file, in the
  namespace it left (a walk-through in several blocks: the test of a ``continue`` block
  runs its whole chain).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import os
import re
import ssl
import textwrap
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import dingnotify
import dingnotify.sync
from dingnotify.testing import App, Emulator, MockRequest, MockResponse, MockTransport, Org
from dingnotify.webhook import WebhookRobot

ROOT = Path(__file__).parents[2]
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent>\s*)```(?:python|py)\s*$")
MARKER = re.compile(r"^<!--\s*docs:\s*(?P<kind>skip|continue)\b\s*(?:--\s*(?P<reason>.*?))?"
                    r"\s*-->\s*$")
AGENT_ID = 123
ROBOT_CODE = "dingxxxx"
WEBHOOK_TOKEN = "..."
WEBHOOK_SECRET = "SEC..."


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    code: str
    kind: str  # "run", "skip" or "continue"
    reason: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> Iterator[Block]:
    """The ```python blocks of ``path`` (also indented ones, in lists) with the marker
    before each; a block left open runs to the end of the file."""
    lines = path.read_text("utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        indent, start = fence["indent"], index + 1
        end = next((i for i in range(start, len(lines))
                    if lines[i].strip() == "```" and lines[i].startswith(indent)), len(lines))
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.match(before.strip())
        kind = marker["kind"] if marker else "run"
        reason = (marker["reason"] or "") if marker else ""
        code = textwrap.dedent("\n".join(lines[start:end])) + "\n"
        yield Block(path, start, code, kind, reason)
        index = end + 1


ALL = [block for path in SOURCES for block in blocks(path)]


def test_every_skip_says_why_and_every_continue_follows_a_block() -> None:
    for previous, block in zip([None, *ALL], ALL, strict=False):
        if block.kind == "skip":
            assert block.reason, f"{block.name}: `<!-- docs: skip -- REASON -->` needs a reason"
        if block.kind == "continue":
            assert previous is not None and previous.path == block.path, block.name


def test_the_harness_finds_the_blocks_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("text\n```python\na = 1\n```\n<!-- docs: skip -- a fragment -->\n\n"
                    "```python\n...\n```\n<!-- docs: continue -->\n```python\nb = a\n```\n"
                    "```bash\nls\n```\n- a list:\n\n    ```py\n    c = 3\n    ```\n"
                    "```python\nopen = 1\n")
    found = [(b.line, b.code, b.kind, b.reason) for b in blocks(page)]
    assert found == [(2, "a = 1\n", "run", ""), (7, "...\n", "skip", "a fragment"),
                     (11, "b = a\n", "continue", ""), (19, "c = 3\n", "run", ""),
                     (22, "open = 1\n", "run", "")]


def _forward_to(emulator: Emulator) -> MockTransport:
    """A transport carrying any webhook request to the emulator's group robots."""
    async def forward(request: MockRequest) -> MockResponse:
        target = request.url.with_scheme("http").with_host(emulator.host).with_port(
            emulator.port)
        async with aiohttp.ClientSession() as session, session.request(
                request.method, target, data=request.content,
                headers={"Content-Type": "application/json"}) as answer:
            return MockResponse(status=answer.status, content=await answer.read(),
                                headers=dict(answer.headers))
    return MockTransport(forward)


@pytest.fixture
async def emulator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Emulator]:
    org = Org.synthetic(n_users=600, depts=12)
    app = org.app
    org.apps = [App(app.app_key, app.app_secret, AGENT_ID)]
    org.top_apps = [App(app.app_key, app.app_secret, 0)]
    async with Emulator(org=org) as emu:
        emu.add_robot(robot_code=ROBOT_CODE)
        emu.add_webhook_robot(WEBHOOK_TOKEN, secret=WEBHOOK_SECRET)
        emu.add_card_template("tpl-approval.schema", ("title", "amount", "status", "content"))
        emu.add_card_template("tpl-notice.schema", ("title",))
        for cls, name, value in [(dingnotify.DingTalkClient, "base_url", emu.url),
                                 (dingnotify.DingTalkClient, "api_base_url", emu.url),
                                 (dingnotify.TopClient, "url", emu.top_url),
                                 (WebhookRobot, "transport", _forward_to(emu))]:
            defaults = cls.__init__.__kwdefaults__
            assert defaults is not None and name in defaults
            monkeypatch.setitem(defaults, name, value)
        yield emu


def _prelude(emu: Emulator, client: dingnotify.DingTalkClient) -> dict[str, Any]:
    app = emu.app
    userids = sorted(emu.org.users)
    webhook = emu.webhook_url(WEBHOOK_TOKEN)
    return {
        "__name__": "__docs__",
        "app_key": app.app_key, "app_secret": app.app_secret,
        "key": app.app_key, "secret": app.app_secret,
        "client": client, "emulator": emu,
        "read_userids": lambda: iter(userids[:250]),
        "any_iterable_or_async_iterable": userids[:30],
        "url": webhook, "webhook_url": webhook,
        "long_report": "A line of the nightly report.\n" * 1_000,
        "my_ssl_context": ssl.create_default_context(),
    }


async def _close_what_is_left(namespace: dict[str, Any]) -> None:
    for value in list(namespace.values()):
        if isinstance(value, dingnotify.sync.DingTalkClient | dingnotify.sync.TopClient
                      | dingnotify.sync.WebhookRobot):
            await asyncio.to_thread(value.close)
        elif isinstance(value, dingnotify.DingTalkClient | dingnotify.TopClient
                        | WebhookRobot):
            await value.aclose()


async def _run(block: Block, namespace: dict[str, Any]) -> None:
    code = compile(block.code, block.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if code.co_flags & inspect.CO_COROUTINE:
        await eval(code, namespace)
    else:
        await asyncio.to_thread(exec, code, namespace)


def chain(block: Block) -> list[Block]:
    """``block`` after the blocks it continues."""
    index = ALL.index(block)
    start = index
    while ALL[start].kind == "continue":
        start -= 1
    return ALL[start:index + 1]


@pytest.mark.parametrize("block", ALL, ids=[block.name for block in ALL])
async def test_code_block(block: Block, emulator: Emulator) -> None:
    if block.kind == "skip":
        pytest.skip(block.reason)
    root = logging.getLogger()
    handlers = list(root.handlers)
    environ = dict(os.environ)
    async with dingnotify.DingTalkClient(
            emulator.app.app_key, emulator.app.app_secret, agent_id=AGENT_ID,
            robot_code=ROBOT_CODE,
            retry=dingnotify.RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
    ) as client:
        namespace = _prelude(emulator, client)
        try:
            for step in chain(block):
                await _run(step, namespace)
        finally:
            for handler in set(root.handlers) - set(handlers):
                root.removeHandler(handler)
                await asyncio.to_thread(handler.close)
            await _close_what_is_left(namespace)
            os.environ.clear()
            os.environ.update(environ)
