"""Blocking clients for sync code (Django, Flask, Celery workers, cron scripts).

``DingTalkClient``, ``TopClient`` and ``WebhookRobot`` take the same arguments as the
async classes and offer the same methods and resources, without ``await``, returning the
same types. Each runs its async client on one private event loop thread, so one
instance, shared by every thread of the process, uses one connection pool, one token and
one quota governor. Close it with ``with``, ``close()``, or let interpreter exit do it;
a call after ``close()`` raises ``ClientClosedError``, a call from a thread running an
event loop raises ``RunningLoopError`` (use the async client there). After ``os.fork()``
the child builds a client of its own on first use.

    from dingnotify.sync import DingTalkClient

    client = DingTalkClient(app_key, app_secret, agent_id=123)
    task_id = client.work_notice.send(Text(content="hi"), userids=["u1"])
"""

from ._clients import DingTalkClient, TopClient, WebhookRobot
from ._loop import RunningLoopError

__all__ = ["DingTalkClient", "RunningLoopError", "TopClient", "WebhookRobot"]
