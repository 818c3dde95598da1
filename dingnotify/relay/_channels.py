"""Send one queued notification through the public SDK: work notices and robot messages.

A work notice to more recipients than one call takes becomes a broadcast (the SDK batches
and paces it); mobiles are resolved to userids first, and unknown ones are reported.
"""

from __future__ import annotations

from typing import Any

from .. import DingTalkClient, NotFoundError, SendResult, message_from_dict
from ..robot import SampleMarkdown, SampleText

OUTCOMES = ("read", "unread", "throttled", "forbidden", "invalid", "failed")


class IncompleteError(Exception):
    """A broadcast ended with batches failed or unknown: the notification is sent again."""


async def _userids(client: DingTalkClient, target: dict[str, Any]) -> tuple[list[str],
                                                                             dict[str, str]]:
    userids = list(target.get("userids", []))
    unknown: dict[str, str] = {}
    for mobile in target.get("mobiles", []):
        try:
            userids.append(await client.users.get_by_mobile(mobile))
        except NotFoundError:
            unknown[mobile] = "unknown_mobile"
    return userids, unknown


async def send_work_notice(client: DingTalkClient, target: dict[str, Any],
                           messages: list[dict[str, Any]]) -> tuple[list[int], dict[str, str]]:
    """Every part sent; the task ids, and the recipients already known to have failed."""
    userids, unknown = await _userids(client, target)
    depts = list(target.get("dept_ids", []))
    if not (userids or depts):
        return [], unknown
    quota = client.work_notice.quota
    task_ids: list[int] = []
    for wire in messages:
        message = message_from_dict(wire)
        # An alert for a few people is interactive (served before bulk work sharing the
        # app); a fan-out too large for one call is bulk: the methods' own defaults.
        if len(userids) <= quota.userids_per_call and len(depts) <= quota.dept_ids_per_call:
            task_ids.append(await client.work_notice.send(message, userids=userids,
                                                          dept_ids=depts))
        else:
            report = await client.work_notice.broadcast(message, userids=userids,
                                                        dept_ids=depts)
            problems = report.failed + report.unknown
            if problems:
                cause = type(problems[0].error).__name__ if problems[0].error else "unknown"
                raise IncompleteError(f"{len(problems)} batches not acknowledged ({cause})")
            task_ids.extend(report.task_ids)
    return task_ids, unknown


def outcome_of(result: SendResult) -> dict[str, str]:
    """userid -> what DingTalk reported for it (a dept's members are not listed)."""
    outcome: dict[str, str] = {}
    for name in OUTCOMES:
        for userid in getattr(result, f"{name}_userids"):
            outcome.setdefault(userid, name)
    return outcome


async def send_robot(client: DingTalkClient, target: dict[str, Any],
                     messages: list[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """One-to-one robot messages; the process query keys and who was not sent."""
    keys: list[str] = []
    outcome: dict[str, str] = {}
    for wire in messages:
        if wire["msgtype"] == "text":
            message: SampleText | SampleMarkdown = SampleText(content=wire["text"]["content"])
        else:
            message = SampleMarkdown(title=wire["markdown"]["title"],
                                     text=wire["markdown"]["text"])
        result = await client.robot.send(message, userids=target.get("userids", []))
        keys.append(result.process_query_key)
        for name in ("invalid", "throttled", "filtered"):
            for userid in getattr(result, f"{name}_userids"):
                outcome.setdefault(userid, name)
    return keys, outcome
