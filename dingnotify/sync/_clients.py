"""The blocking clients and their resources, declared from the async classes.

Each line names an async method; its parameters and result type come from it. A method
or resource added to the async side works here at run time at once, and
``tests/sync/test_signatures.py`` asks for its line so type checkers see it too.
"""

from __future__ import annotations

from typing import Any

from .. import DingTalkClient as AsyncDingTalkClient
from .. import Quota, RetryPolicy
from .. import TopClient as AsyncTopClient
from ..cards import Cards as AsyncCards
from ..impaas import Impaas as AsyncImpaas
from ..media import Media as AsyncMedia
from ..robot import Robot as AsyncRobot
from ..top._lyservice import LyService as AsyncLyService
from ..users import Users as AsyncUsers
from ..webhook import SlidingWindowLimiter
from ..webhook import WebhookRobot as AsyncWebhookRobot
from ..work_notice import WorkNotice as AsyncWorkNotice
from ._proxy import (
    Factory,
    Proxy,
    Resource,
    SyncClient,
    async_only,
    blocking,
    constructor_of,
    plain,
)


class WorkNotice(Proxy):
    """``client.work_notice``, blocking: see ``dingnotify.work_notice.WorkNotice``."""

    quota: Quota
    send = blocking(AsyncWorkNotice.send)
    get_progress = blocking(AsyncWorkNotice.get_progress)
    get_result = blocking(AsyncWorkNotice.get_result)
    recall = blocking(AsyncWorkNotice.recall)
    update_status_bar = blocking(AsyncWorkNotice.update_status_bar)
    broadcast = blocking(AsyncWorkNotice.broadcast)
    deliver = blocking(AsyncWorkNotice.deliver)
    settle = blocking(AsyncWorkNotice.settle)
    wait = blocking(AsyncWorkNotice.wait)
    recall_all = blocking(AsyncWorkNotice.recall_all)


class Users(Proxy):
    """``client.users``, blocking: see ``dingnotify.users.Users``."""

    get_by_mobile = blocking(AsyncUsers.get_by_mobile)
    get_by_mobile_v2 = blocking(AsyncUsers.get_by_mobile_v2)


class Media(Proxy):
    """``client.media``, blocking: see ``dingnotify.media.Media``."""

    upload = blocking(AsyncMedia.upload)
    upload_detailed = blocking(AsyncMedia.upload_detailed)


class Impaas(Proxy):
    """``client.impaas``, blocking: see ``dingnotify.impaas.Impaas``."""

    send_crossdomain = blocking(AsyncImpaas.send_crossdomain)


class Robot(Proxy):
    """``client.robot``, blocking: see ``dingnotify.robot.Robot``."""

    robot_code: str | None
    send = blocking(AsyncRobot.send)
    send_to_group = blocking(AsyncRobot.send_to_group)
    read_status = blocking(AsyncRobot.read_status)
    recall = blocking(AsyncRobot.recall)
    broadcast = blocking(AsyncRobot.broadcast)


class Cards(Proxy):
    """``client.cards``, blocking: see ``dingnotify.cards.Cards``. ``streaming`` is an
    async context manager: stream card text from the async client."""

    deliver = blocking(AsyncCards.deliver)
    update = blocking(AsyncCards.update)
    broadcast = blocking(AsyncCards.broadcast)
    streaming = async_only(AsyncCards.streaming, "stream card text with the async "
                           "dingnotify.DingTalkClient (async with client.cards.streaming(...))")


class DingTalkClient(SyncClient[AsyncDingTalkClient]):
    """Blocking client for DingTalk's server API; share one per process, across threads.

    Takes exactly the arguments of the async ``dingnotify.DingTalkClient`` and offers its
    methods and resources without ``await``; the calls of every thread go through one
    connection pool, one token and one quota governor, on a private event loop thread.
    """

    app_key: str
    agent_id: int | None
    base_url: str
    api_base_url: str
    quota: Quota | None
    retry: RetryPolicy
    token_refreshes: int
    users = Resource(Users)
    work_notice = Resource(WorkNotice)
    media = Resource(Media)
    impaas = Resource(Impaas)
    robot = Resource(Robot)
    cards = Resource(Cards)
    get_access_token = blocking(AsyncDingTalkClient.get_access_token)
    call = blocking(AsyncDingTalkClient.call)
    stream = async_only(AsyncDingTalkClient.stream, "a StreamClient runs on an event loop: "
                        "use dingnotify.stream.StreamClient in async code")

    @constructor_of(AsyncDingTalkClient)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        factory = Factory(AsyncDingTalkClient, args, kwargs)
        del args, kwargs  # no frame of ours keeps the credentials
        super().__init__(factory)


class LyService(Proxy):
    """``top.lyservice``, blocking."""

    send_lippi_message = blocking(AsyncLyService.send_lippi_message)


class TopClient(SyncClient[AsyncTopClient]):
    """Blocking client for the Taobao Open Platform gateway (``dingnotify.TopClient``)."""

    app_key: str
    url: str
    sign_method: str
    simplify: bool
    partner_id: str | None
    lyservice = Resource(LyService)
    execute = blocking(AsyncTopClient.execute)

    @constructor_of(AsyncTopClient)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        factory = Factory(AsyncTopClient, args, kwargs)
        del args, kwargs  # no frame of ours keeps the credentials
        super().__init__(factory)


class WebhookRobot(SyncClient[AsyncWebhookRobot]):
    """One custom group robot, blocking (``dingnotify.webhook.WebhookRobot``).

    Its 20 messages a minute are the same process-wide window as the async robots' on
    the same URL (the ``WebhookHandler``'s thread included).
    """

    api: str
    limiter: SlidingWindowLimiter | None
    send = blocking(AsyncWebhookRobot.send)
    prepare = plain(AsyncWebhookRobot.prepare)

    @constructor_of(AsyncWebhookRobot)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        factory = Factory(AsyncWebhookRobot, args, kwargs)
        del args, kwargs  # no frame of ours keeps the credentials
        super().__init__(factory)
