"""No token or secret held as a plain ``str`` (issue 25, item 12): after real calls on each
family (oapi, v1, webhook), nothing reachable from the client or the robot (callers,
families, token refresher and store, credentials) is a ``str`` holding the app secret, an
access token or a robot's token or secret. Objects that carry a token to aiohttp (yarl
URLs, frozen headers) may exist; they are not ``str`` and their reprs are checked apart."""

from __future__ import annotations

from collections.abc import Iterator

from dingnotify import DingTalkClient, Text
from dingnotify._redact import Secret
from dingnotify.robot import SampleText
from dingnotify.testing import Emulator
from dingnotify.webhook import Text as WebhookText
from dingnotify.webhook import WebhookRobot

ROBOT_TOKEN = "robot-token-5f1c2e9a"
ROBOT_SECRET = "SECrobot-secret-8d7b"


def reachable(root: object) -> Iterator[tuple[str, object]]:
    """(path, value) for every attribute, slot and container item reachable from ``root``
    through the SDK's own objects (third-party objects are leaves)."""
    seen: set[int] = set()
    stack: list[tuple[str, object]] = [(type(root).__name__, root)]
    while stack:
        path, value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        yield path, value
        if isinstance(value, Secret):  # the one holder allowed: it never shows itself
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                stack += [(f"{path}[{k!r}].key", k), (f"{path}[{k!r}]", v)]
        elif isinstance(value, list | tuple | set | frozenset):
            stack += [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        elif type(value).__module__.startswith("dingnotify"):
            attrs = dict(getattr(value, "__dict__", {}))
            for cls in type(value).__mro__:
                for name in getattr(cls, "__slots__", ()):
                    if hasattr(value, name):
                        attrs[name] = getattr(value, name)
            stack += [(f"{path}.{name}", v) for name, v in attrs.items()]


def plain_secrets(root: object, secrets: set[str]) -> list[str]:
    return [path for path, value in reachable(root)
            if isinstance(value, str) and any(s in value for s in secrets)]


def sdk_reprs(root: object) -> list[str]:
    """The reprs of the SDK's own objects (a yarl URL inside one may carry the token)."""
    return [repr(v) for _, v in reachable(root) if type(v).__module__.startswith("dingnotify")]


async def test_no_token_or_secret_is_a_plain_str_attribute() -> None:
    async with Emulator() as emu:
        emu.add_webhook_robot(ROBOT_TOKEN, secret=ROBOT_SECRET)
        app = emu.app
        async with DingTalkClient(app.app_key, app.app_secret, agent_id=app.agent_id,
                                  robot_code=emu.robot_code, base_url=emu.url,
                                  api_base_url=emu.url) as client:
            await client.work_notice.send(Text(content="hi"), userids=["u000001"])
            await client.users.get_by_mobile("13800000002")
            await client.robot.send(SampleText(content="hi"), userids=["u000003"])
            tokens = {r.query["access_token"] for r in emu.requests
                      if "access_token" in r.query}
            tokens |= {r.response["accessToken"] for r in emu.requests  # the v1 token
                       if isinstance(r.response, dict) and r.response.get("accessToken")}
            assert len(tokens) >= 2
            leaks = plain_secrets(client, tokens | {app.app_secret})
            texts = sdk_reprs(client)
        async with WebhookRobot(emu.webhook_url(ROBOT_TOKEN), ROBOT_SECRET) as robot:
            await robot.send(WebhookText(content="hi"))
            leaks += plain_secrets(robot, {ROBOT_TOKEN, ROBOT_SECRET})
            texts += sdk_reprs(robot)
    assert leaks == [], leaks
    for text in texts:
        for secret in tokens | {app.app_secret, ROBOT_TOKEN, ROBOT_SECRET}:
            assert secret not in text, text[:200]
