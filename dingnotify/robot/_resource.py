"""``client.robot``: one-to-one and group robot messages, read status, recall, broadcast."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import ClassVar

import msgspec

from .._api.v1 import V1Caller
from .._constants import DEFAULT_CONCURRENCY, DEFAULT_RESEND_DELAY, DEFAULT_RESEND_ROUNDS
from .._coordination import Priority
from .._errors import ResponseDecodeError, ValidationError
from .._recipients import (
    BatchPlanner,
    UserIds,
    UserIdStream,
    check_userids_container,
    unique_userids,
)
from .._retry import RetryHook, RetryPolicy
from ..broadcast import (
    AttemptHook,
    Batch,
    EventHook,
    check_resend,
    resend_throttled,
    run_broadcast,
)
from ._messages import RobotMessage, _Template, encode_msg_param
from ._models import RobotReadStatus, RobotRecallResult, RobotSendResult
from ._report import RobotBroadcastReport
from ._wire import decode_group_send, decode_read_status, decode_recall, decode_send

PATH_SEND = "/v1.0/robot/oToMessages/batchSend"
PATH_GROUP = "/v1.0/robot/groupMessages/send"
PATH_RECALL = "/v1.0/robot/otoMessages/batchRecall"
PATH_READ_STATUS = "/v1.0/robot/oToMessages/readStatus"
MAX_USERIDS = 20
"""Userids one ``batchSend`` call takes: the robot's batch size, everywhere."""
MAX_RECALL_KEYS = 20
MAX_GROUP_PARAM_BYTES = 15_000
NO_ANSWER = "DingTalk's answer named this key in neither list"

_encode = msgspec.json.Encoder().encode


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty string")
    return value


def _check_message(message: object) -> RobotMessage:
    if not isinstance(message, _Template):
        raise ValidationError(
            f"message must be a robot template (SampleText, ...), got {type(message).__name__}")
    return message  # type: ignore[return-value]


class _SendBody:
    """A ``batchSend`` body encoded once; each batch splices in its userids."""

    __slots__ = ("_head", "_tail")

    def __init__(self, robot_code: str, message: RobotMessage) -> None:
        self._head = b'{"robotCode":' + _encode(robot_code) + b',"userIds":'
        self._tail = (b',"msgKey":' + _encode(message.msg_key) + b',"msgParam":'
                      + _encode(encode_msg_param(message)) + b"}")

    def render(self, userids: Sequence[str]) -> bytes:
        """The JSON array encoded straight from the list or tuple, then one copy."""
        return b"".join((self._head, _encode(userids), self._tail))


class Robot:
    """``client.robot``: the enterprise robot on DingTalk's new-generation API.

    ``robot_code`` comes from the client or from each call. Every call takes ``timeout``
    (seconds per request; for ``broadcast`` the whole run) and ``retry``.
    ``userids_per_call`` is the size of every batch (``MAX_USERIDS``).
    """

    userids_per_call: ClassVar[int] = MAX_USERIDS

    def __init__(self, caller: V1Caller, robot_code: str | None = None) -> None:
        if robot_code is not None:
            _text("robot_code", robot_code)
        self._caller = caller
        self.robot_code = robot_code

    def _code(self, robot_code: str | None) -> str:
        code = robot_code if robot_code is not None else self.robot_code
        if code is None:
            raise ValidationError("robot_code is required: give it to the client or the call")
        return _text("robot_code", code)

    async def send(
        self,
        message: RobotMessage,
        *,
        userids: UserIds,
        robot_code: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> RobotSendResult:
        """Send one message to at most ``MAX_USERIDS`` users (after de-duplication).

        Users in ``throttled_userids`` were not sent and may be sent again later;
        ``broadcast`` does that for you, and takes any number of users.
        """
        body = _SendBody(self._code(robot_code), _check_message(message))
        users = unique_userids(userids)
        if not users or len(users) > MAX_USERIDS:
            raise ValidationError(f"one send takes 1-{MAX_USERIDS} userids, got {len(users)}; "
                                  "use broadcast for more")
        return await self._send(body, users, timeout=timeout, retry=retry, priority=priority)

    async def _send(
        self,
        body: _SendBody,
        userids: Sequence[str],
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_attempt: AttemptHook | None = None,
        on_retry: RetryHook | None = None,
        priority: Priority = "interactive",
    ) -> RobotSendResult:
        result = await self._caller.send(
            "POST", PATH_SEND, decode_send, body=body.render(userids), timeout=timeout,
            retry=retry, on_attempt=on_attempt, on_retry=on_retry, repeatable=False,
            priority=priority)
        if not result.process_query_key:
            raise ResponseDecodeError(f"{PATH_SEND}: response has no processQueryKey")
        return within(result, userids)

    async def send_to_group(
        self,
        message: RobotMessage,
        *,
        open_conversation_id: str,
        robot_code: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> str:
        """Send one message to a group the robot is in; returns its ``processQueryKey``."""
        param = encode_msg_param(_check_message(message))
        if len(param.encode()) > MAX_GROUP_PARAM_BYTES:
            raise ValidationError(f"a group message's msgParam is at most "
                                  f"{MAX_GROUP_PARAM_BYTES} bytes")
        body = _encode({"robotCode": self._code(robot_code),
                        "openConversationId": _text("open_conversation_id",
                                                    open_conversation_id),
                        "msgKey": message.msg_key, "msgParam": param})
        key = await self._caller.send("POST", PATH_GROUP, decode_group_send, body=body,
                                      timeout=timeout, retry=retry, repeatable=False,
                                      priority=priority)
        if not key:
            raise ResponseDecodeError(f"{PATH_GROUP}: response has no processQueryKey")
        return key

    async def read_status(
        self,
        process_query_key: str,
        *,
        robot_code: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> RobotReadStatus:
        """Who has read a one-to-one message (DingTalk keeps this for 24 hours)."""
        query = {"robotCode": self._code(robot_code),
                 "processQueryKey": _text("process_query_key", process_query_key)}
        return await self._caller.send("GET", PATH_READ_STATUS, decode_read_status,
                                       query=query, timeout=timeout, retry=retry,
                                       priority=priority)

    async def recall(
        self,
        process_query_keys: Iterable[str],
        *,
        robot_code: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> RobotRecallResult:
        """Recall one-to-one messages: keys recalled, and the reason for each that was not.

        Any number of keys (20 per call, one call after another). Every key asked about is
        in exactly one of the two: one DingTalk's answer names in neither list is failed
        (``NO_ANSWER``), and keys it names that were not asked about are ignored.
        """
        code = self._code(robot_code)
        check_userids_container(process_query_keys)
        keys = list(dict.fromkeys(_text("process_query_keys item", k)
                                  for k in process_query_keys))
        if not keys:
            raise ValidationError("process_query_keys is empty")
        recalled: list[str] = []
        failed: dict[str, str] = {}
        for start in range(0, len(keys), MAX_RECALL_KEYS):
            body = _encode({"robotCode": code,
                            "processQueryKeys": keys[start:start + MAX_RECALL_KEYS]})
            part = await self._caller.send("POST", PATH_RECALL, decode_recall, body=body,
                                           timeout=timeout, retry=retry, priority=priority)
            asked = keys[start:start + MAX_RECALL_KEYS]
            done = {k for k in part.recalled if k in asked}
            recalled.extend(k for k in asked if k in done)
            failed.update({k: part.failed.get(k, NO_ANSWER) for k in asked if k not in done})
        return RobotRecallResult(recalled=recalled, failed=failed)

    async def broadcast(
        self,
        message: RobotMessage,
        *,
        userids: UserIdStream,
        robot_code: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        resend_rounds: int = DEFAULT_RESEND_ROUNDS,
        resend_delay: float = DEFAULT_RESEND_DELAY,
        on_event: EventHook[str] | None = None,
        report: RobotBroadcastReport | None = None,
        acknowledged: Mapping[int, str] | None = None,
        rate_limit_stop: int | None = None,
        unknown: Collection[int] = (),
        priority: Priority = "bulk",
    ) -> RobotBroadcastReport:
        """Send one message to any number of users, ``MAX_USERIDS`` per call, through the
        fan-out engine.

        Users are de-duplicated in order; ``userids`` may be a collection, a generator or
        an async iterator. Users DingTalk answers as flow-controlled are sent again after
        ``resend_delay`` seconds, for up to ``resend_rounds`` more rounds (by default
        ``DEFAULT_RESEND_ROUNDS`` rounds ``DEFAULT_RESEND_DELAY`` seconds apart, as for
        ``work_notice.deliver``); ``timeout`` bounds the whole run. The report
        accounts for every recipient exactly once (see ``RobotBroadcastReport``), however
        the run ends: cancelled or past ``timeout`` during a resend delay or mid-round, it
        is not ``complete`` (``cancelled`` or ``timed_out`` says which), the users no round
        got to are in ``robot_throttled_userids`` and a round's unanswered batches are
        ``failed`` or ``unknown``.

        The run stops like the fan-out does (``report.stopped_by``, every batch not sent
        failed with that error, no further resend round): at a ``QuotaExhaustedError``,
        or when ``rate_limit_stop`` batches in a row (default ``max(2, concurrency)``)
        failed rate-limited after all their retries with none acknowledged in between, a
        403 ``QpsLimit`` storm that shows the API's rate budget is gone.

        Resuming (``acknowledged``: batch index -> ``processQueryKey`` of an earlier run),
        pass the indexes that run left ``unknown`` too: the robot API does not drop a
        repeat, so they are recorded unknown again and never sent twice. Its calls are
        ``"bulk"`` (``priority``): they leave the quota's ``interactive_reserve`` free.
        """
        body = _SendBody(self._code(robot_code), _check_message(message))
        if isinstance(userids, Collection) and not userids:  # checked whole by the fan-out
            raise ValidationError("no recipients: userids is empty")
        check_resend(resend_rounds, resend_delay)
        report = report if report is not None else RobotBroadcastReport()
        deadline = None if timeout is None else time.monotonic() + timeout

        async def send(batch: Batch[str], on_attempt: AttemptHook, on_retry: RetryHook) -> str:
            result = await self._send(body, batch.userids, retry=retry, on_attempt=on_attempt,
                                      on_retry=on_retry, priority=priority)
            report.robot_results[batch.index] = result
            return result.process_query_key

        async def run(users: UserIdStream, first: int, run_timeout: float | None) -> None:
            planner = BatchPlanner(userids_per_call=MAX_USERIDS)
            planner.planned = first  # re-send batches continue the numbering
            await run_broadcast(send, users, planner=planner, concurrency=concurrency,
                                rate=rate, timeout=run_timeout, on_event=on_event,
                                report=report, acknowledged=acknowledged if not first else None,
                                rate_limit_stop=rate_limit_stop,
                                unknown=unknown if not first else ())

        async def resend(pending: list[str], left: float | None) -> list[str]:
            first = len(report.batches)
            report.resend_rounds += 1
            try:
                await run(pending, first, left)
            finally:
                report.robot_throttled_userids = _throttled(report, first, pending)
            return report.robot_throttled_userids

        try:
            await run(userids, 0, timeout)
        finally:
            report.robot_throttled_userids = _throttled(report, 0, [])
        started, recipients = report.started_at, report.recipients
        try:
            done = await resend_throttled(report.robot_throttled_userids, resend,
                                          rounds=resend_rounds, delay=resend_delay,
                                          deadline=deadline, go_on=lambda: report.complete)
        except BaseException:
            if report.complete:  # cut during a delay: no round was running to say so
                report.complete, report.cancelled = False, True
                report.finished_at = time.monotonic()
            raise
        finally:
            report.started_at, report.recipients = started, recipients
        if done.timed_out:  # the deadline left no time for the next round's delay
            report.complete, report.timed_out = False, True
            report.finished_at = time.monotonic()
        return report


def within(result: RobotSendResult, userids: Sequence[str]) -> RobotSendResult:
    """The answer's lists kept to the users the call was for, each user in one list at
    most (the first of invalid, throttled, filtered that names it): an answer is not
    trusted to name only them, nor each of them once."""
    if not (result.invalid_userids or result.throttled_userids or result.filtered_userids):
        return result  # the usual answer: nothing to check, no set built
    asked, seen = set(userids), set[str]()

    def keep(ids: list[str]) -> list[str]:
        kept = [u for u in dict.fromkeys(ids) if u in asked and u not in seen]
        seen.update(kept)
        return kept

    return RobotSendResult(process_query_key=result.process_query_key,
                           invalid_userids=keep(result.invalid_userids),
                           throttled_userids=keep(result.throttled_userids),
                           filtered_userids=keep(result.filtered_userids))


def _throttled(report: RobotBroadcastReport, first: int, pending: list[str]) -> list[str]:
    """Still throttled after a round that began at batch ``first``: the ``pending`` users
    no batch of the round took, then those the round's answers throttled again."""
    still: list[str] = []
    if pending:
        taken = {u for b in report.batches[first:] for u in b.userids}
        still = [u for u in pending if u not in taken]
    for batch in report.batches[first:]:
        result = report.robot_results.get(batch.index)
        if result is not None:
            still.extend(result.throttled_userids)
    return still
