"""Work notifications (``corpconversation``): send, progress, result, recall, status bar,
and the fan-outs built on them (broadcast, wait, deliver, recall_all)."""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Iterable, Mapping, Sequence

import msgspec

from .._api import Call
from .._api.oapi import OapiCaller
from .._api.oapi_wire import Envelope, envelope_decoder
from .._constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RESEND_DELAY,
    DEFAULT_RESEND_ROUNDS,
    PATH_ASYNCSEND,
    PATH_PROGRESS,
    PATH_RECALL,
    PATH_RESULT,
    PATH_STATUS_BAR,
)
from .._coordination import Priority
from .._errors import ResponseDecodeError, ValidationError
from .._quota import Quota
from .._recipients import (
    BatchPlanner,
    UserIds,
    UserIdStream,
    unique_dept_ids,
    unique_userids,
)
from .._retry import RetryHook, RetryPolicy
from .._transport import JSON_HEADERS
from ..broadcast import (
    AttemptHook,
    Batch,
    BroadcastReport,
    EventHook,
    ProgressHook,
    check_resend,
    confirm_tasks,
    recall_tasks,
    run_broadcast,
)
from ._body import SendBody, check_agent_id
from ._delivery import Delivery, ResendHook, follow_up
from ._messages import Message
from ._models import SendProgress, SendResult
from ._tasks import check_task_id, check_task_id_answer, pending_tasks
from ._wire import ProgressResponse, ResultResponse, SendResponse, parse_send_result

_encode = msgspec.json.Encoder().encode
_decode_send = envelope_decoder(SendResponse)


class WorkNotice:
    """``client.work_notice``."""

    def __init__(
        self, api: OapiCaller, agent_id: int | None, flow_control_codes: Collection[str]
    ) -> None:
        self._api = api
        self._agent_id = agent_id
        self._flow_control_codes = frozenset(flow_control_codes)
        governor = api.governor
        self._quota = governor.quota if governor is not None else Quota()

    def _agent(self, agent_id: int | None) -> int:
        return check_agent_id(agent_id if agent_id is not None else self._agent_id)

    async def send(
        self,
        message: Message,
        *,
        userids: UserIds = (),
        dept_ids: Iterable[int] = (),
        to_all_user: bool = False,
        agent_id: int | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> int:
        """Queue one work notification; returns DingTalk's ``task_id``.

        At most the quota's ``userids_per_call``/``dept_ids_per_call`` recipients (after
        de-duplication); ``broadcast`` takes any number. Acceptance is not delivery: check
        ``get_result``. ``priority``: a person waits for it (the default), so it is served
        before bulk work and may use the quota's ``interactive_reserve``.
        """
        body = SendBody(message, self._agent(agent_id), to_all_user=bool(to_all_user))
        users, depts = unique_userids(userids), unique_dept_ids(dept_ids)
        quota = self._quota
        if len(users) > quota.userids_per_call or len(depts) > quota.dept_ids_per_call:
            raise ValidationError(
                f"one call takes at most {quota.userids_per_call} userids and "
                f"{quota.dept_ids_per_call} dept ids (got {len(users)} and {len(depts)}); "
                "use broadcast for more"
            )
        return await self._send(body, users, depts, timeout=timeout, retry=retry,
                                priority=priority)

    async def _send(
        self,
        body: SendBody,
        userids: tuple[str, ...] | list[str],
        dept_ids: tuple[int, ...] | list[int],
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_attempt: AttemptHook | None = None,
        on_retry: RetryHook | None = None,
        userid_list: str | None = None,
        priority: Priority = "interactive",
    ) -> int:
        call = Call("POST", PATH_ASYNCSEND, _decode_send, headers=JSON_HEADERS,
                    body=body.render(userids, dept_ids, userid_list),
                    recipients=self._quota.reservation(len(userids), len(dept_ids),
                                                       body.to_all_user),
                    priority=priority)
        envelope = await self._api.call(call, timeout=timeout, retry=retry,
                                        on_attempt=on_attempt, on_retry=on_retry)
        if envelope.task_id is None:
            raise ResponseDecodeError(f"{PATH_ASYNCSEND}: response has no task_id")
        return check_task_id_answer(envelope.task_id)

    def _task_call(
        self, path: str, kind: type[Envelope], payload: dict[str, object],
        timeout: float | None, retry: RetryPolicy | None, priority: Priority,
    ) -> Awaitable[Envelope]:
        return self._api.send("POST", path, kind, body=_encode(payload), timeout=timeout,
                              retry=retry, priority=priority)

    async def get_progress(
        self, task_id: int, *, agent_id: int | None = None, timeout: float | None = None,
        retry: RetryPolicy | None = None, priority: Priority = "interactive",
    ) -> SendProgress:
        """How far DingTalk has got delivering ``task_id``."""
        envelope = await self._task_call(
            PATH_PROGRESS, ProgressResponse,
            {"agent_id": self._agent(agent_id), "task_id": check_task_id(task_id)},
            timeout, retry, priority)
        assert isinstance(envelope, ProgressResponse)
        if envelope.progress is None:
            raise ResponseDecodeError(f"{PATH_PROGRESS}: response has no progress")
        return SendProgress(
            percent=envelope.progress.progress_in_percent, status=envelope.progress.status
        )

    async def get_result(
        self, task_id: int, *, agent_id: int | None = None, timeout: float | None = None,
        retry: RetryPolicy | None = None, priority: Priority = "interactive",
    ) -> SendResult:
        """Who was invalid, forbidden, throttled, failed, read and unread for ``task_id``."""
        envelope = await self._task_call(
            PATH_RESULT, ResultResponse,
            {"agent_id": self._agent(agent_id), "task_id": check_task_id(task_id)},
            timeout, retry, priority)
        assert isinstance(envelope, ResultResponse)
        return parse_send_result(envelope.send_result, self._flow_control_codes)

    async def recall(
        self, task_id: int, *, agent_id: int | None = None, timeout: float | None = None,
        retry: RetryPolicy | None = None, priority: Priority = "interactive",
    ) -> None:
        """Withdraw a sent notification from every recipient."""
        await self._task_call(
            PATH_RECALL, Envelope,
            {"agent_id": self._agent(agent_id), "msg_task_id": check_task_id(task_id)},
            timeout, retry, priority)

    async def update_status_bar(
        self,
        task_id: int,
        status_value: str,
        *,
        status_bg: str | None = None,
        agent_id: int | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "interactive",
    ) -> None:
        """Change the status bar of an OA message already sent."""
        if not isinstance(status_value, str) or not status_value:
            raise ValidationError("status_value must be a non-empty string")
        payload: dict[str, object] = {
            "agent_id": self._agent(agent_id), "task_id": check_task_id(task_id),
            "status_value": status_value,
        }
        if status_bg is not None:
            payload["status_bg"] = status_bg
        await self._task_call(PATH_STATUS_BAR, Envelope, payload, timeout, retry, priority)

    @property
    def quota(self) -> Quota:
        """The quota whose ``userids_per_call``/``dept_ids_per_call`` size every batch."""
        return self._quota

    def _planner(self, dept_ids: Sequence[int] = (), first: int = 0) -> BatchPlanner:
        planner = BatchPlanner(dept_ids, userids_per_call=self._quota.userids_per_call,
                               dept_ids_per_call=self._quota.dept_ids_per_call)
        planner.planned = first  # a resend round's batches continue the numbering
        return planner

    async def _fan_out(
        self, body: SendBody, userids: UserIdStream, planner: BatchPlanner, *,
        concurrency: int, rate: float | None, timeout: float | None,
        retry: RetryPolicy | None, on_event: EventHook[int] | None,
        report: BroadcastReport[int] | None = None,
        acknowledged: Mapping[int, int] | None = None,
        priority: Priority = "bulk",
    ) -> BroadcastReport[int]:
        def send(batch: Batch[int], on_attempt: AttemptHook, on_retry: RetryHook
                 ) -> Awaitable[int]:
            return self._send(body, batch.userids, batch.dept_ids, retry=retry,
                              on_attempt=on_attempt, on_retry=on_retry,
                              userid_list=batch.userid_list, priority=priority)

        return await run_broadcast(
            send, userids, planner=planner,
            concurrency=1 if body.to_all_user else concurrency, rate=rate, timeout=timeout,
            on_event=on_event, report=report, acknowledged=acknowledged,
            at_least_one=body.to_all_user,
        )

    async def broadcast(
        self,
        message: Message,
        *,
        userids: UserIdStream = (),
        dept_ids: Iterable[int] = (),
        to_all_user: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        timeout: float | None = None,
        agent_id: int | None = None,
        retry: RetryPolicy | None = None,
        on_event: EventHook[int] | None = None,
        report: BroadcastReport[int] | None = None,
        acknowledged: Mapping[int, int] | None = None,
        priority: Priority = "bulk",
    ) -> BroadcastReport[int]:
        """Notify any number of people, in batches sized by the client's ``Quota``.

        Recipients are de-duplicated in order; ``userids`` may be a collection, a generator
        or an async iterator of any length. At most ``concurrency`` calls are in flight;
        the quota governor paces them and ``rate`` caps this broadcast further (calls per
        second). Every batch ends acknowledged (its ``task_id`` in ``report.task_ids``),
        failed (certainly not sent) or unknown (may have been sent), with its error. A
        collection is fully checked before anything is sent; a stream's invalid entries
        are skipped and listed in ``report.rejected``. ``deliver`` also waits for the
        result and re-sends the recipients DingTalk's flow control held back. Its calls are
        ``"bulk"`` (``priority``): they leave the quota's ``interactive_reserve`` free.
        """
        body = SendBody(message, self._agent(agent_id), to_all_user=bool(to_all_user))
        depts = unique_dept_ids(dept_ids)  # userids: checked once, by the batch source
        if to_all_user and (depts or (isinstance(userids, Collection) and userids)):
            raise ValidationError("to_all_user sends to everyone: give no userids/dept_ids")
        if not to_all_user and isinstance(userids, Collection) and not userids and not depts:
            raise ValidationError("no recipients: give userids or dept_ids")
        return await self._fan_out(
            body, userids, self._planner(depts), concurrency=concurrency, rate=rate,
            timeout=timeout, retry=retry, on_event=on_event, report=report,
            acknowledged=acknowledged, priority=priority)

    async def deliver(
        self,
        message: Message,
        *,
        userids: UserIdStream = (),
        dept_ids: Iterable[int] = (),
        to_all_user: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        timeout: float | None = None,
        agent_id: int | None = None,
        retry: RetryPolicy | None = None,
        on_event: EventHook[int] | None = None,
        report: BroadcastReport[int] | None = None,
        acknowledged: Mapping[int, int] | None = None,
        resend_rounds: int = DEFAULT_RESEND_ROUNDS,
        resend_delay: float = DEFAULT_RESEND_DELAY,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        wait_timeout: float | None = None,
        on_progress: ProgressHook | None = None,
        on_resend: ResendHook | None = None,
        priority: Priority = "bulk",
    ) -> Delivery:
        """``broadcast``, then ``settle``: every task confirmed, and the recipients DingTalk's
        per-minute flow control held back re-sent, ``resend_delay`` seconds apart, for at
        most ``resend_rounds`` rounds.

        The broadcast's arguments are ``broadcast``'s; ``poll_interval``, ``wait_timeout``
        (each wait), ``on_progress`` and ``on_resend`` are ``settle``'s. ``timeout`` bounds
        the broadcast and each resend round's.
        """
        check_resend(resend_rounds, resend_delay)
        report = await self.broadcast(
            message, userids=userids, dept_ids=dept_ids, to_all_user=to_all_user,
            concurrency=concurrency, rate=rate, timeout=timeout, agent_id=agent_id,
            retry=retry, on_event=on_event, report=report, acknowledged=acknowledged,
            priority=priority)
        return await self.settle(
            message, report, concurrency=concurrency, rate=rate, timeout=timeout,
            agent_id=agent_id, retry=retry, on_event=on_event, resend_rounds=resend_rounds,
            resend_delay=resend_delay, poll_interval=poll_interval, wait_timeout=wait_timeout,
            on_progress=on_progress, on_resend=on_resend, priority=priority)

    async def settle(
        self,
        message: Message,
        report: BroadcastReport[int],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        timeout: float | None = None,
        agent_id: int | None = None,
        retry: RetryPolicy | None = None,
        on_event: EventHook[int] | None = None,
        resend_rounds: int = DEFAULT_RESEND_ROUNDS,
        resend_delay: float = DEFAULT_RESEND_DELAY,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        wait_timeout: float | None = None,
        on_progress: ProgressHook | None = None,
        on_resend: ResendHook | None = None,
        priority: Priority = "bulk",
    ) -> Delivery:
        """Follow ``message``'s broadcast ``report`` to the end.

        ``wait`` for its tasks; while the result lists ``throttled_userids`` (filtered by
        DingTalk's per-minute flow control: they got nothing) and fewer than
        ``resend_rounds`` rounds ran, wait ``resend_delay`` seconds, broadcast ``message``
        to them again (``on_resend(round, userids)`` first; the round's batches are added to
        ``report``) and wait for that. ``wait_timeout`` bounds each wait and raises
        ``DeliveryTimeoutError``; ``timeout`` bounds each round's broadcast. Defaults are
        the robot's too: ``DEFAULT_RESEND_ROUNDS`` rounds, ``DEFAULT_RESEND_DELAY`` s apart.
        """
        check_resend(resend_rounds, resend_delay)
        agent = self._agent(agent_id)
        body = SendBody(message, agent)

        async def confirm(tasks: BroadcastReport[int]) -> SendResult:
            return await self.wait(tasks, poll_interval=poll_interval, timeout=wait_timeout,
                                   concurrency=concurrency, agent_id=agent,
                                   on_progress=on_progress, retry=retry, priority=priority)

        async def send_again(userids: list[str]) -> BroadcastReport[int]:
            return await self._fan_out(
                body, userids, self._planner(first=len(report.batches)),
                concurrency=concurrency, rate=rate, timeout=timeout, retry=retry,
                on_event=on_event, priority=priority)

        return await follow_up(report, confirm, send_again, rounds=resend_rounds,
                               delay=resend_delay, on_resend=on_resend)

    async def wait(
        self,
        tasks: Iterable[int] | BroadcastReport[int],
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        agent_id: int | None = None,
        on_progress: ProgressHook | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "bulk",
    ) -> SendResult:
        """Wait until DingTalk has processed every task, then merge their send results.

        Pass the ``BroadcastReport`` itself to confirm userid-only tasks from one result
        call each (task ids alone cost a progress poll too). Polls draw on the client's
        quota like every call; ``retry`` applies to each of them, and ``timeout`` bounds the
        whole wait. Raises ``DeliveryTimeoutError`` (a ``TimeoutError``) listing unfinished
        tasks.
        """
        agent = self._agent(agent_id)
        pending = pending_tasks(tasks)

        async def progress(task_id: int) -> SendProgress:
            return await self.get_progress(task_id, agent_id=agent, retry=retry,
                                           priority=priority)

        async def result(task_id: int) -> SendResult:
            return await self.get_result(task_id, agent_id=agent, retry=retry,
                                         priority=priority)

        return await confirm_tasks(
            pending, progress, result, merge=SendResult.merge, poll_interval=poll_interval,
            timeout=timeout, concurrency=concurrency, on_progress=on_progress,
        )

    async def recall_all(
        self,
        task_ids: Iterable[int],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        agent_id: int | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = "bulk",
    ) -> dict[int, Exception]:
        """Recall every task; returns ``{task_id: error}`` for those that could not be.

        ``timeout`` and ``retry`` apply to each recall call."""
        agent = self._agent(agent_id)
        ids = [check_task_id(t) for t in task_ids]

        async def recall(task_id: int) -> None:
            await self.recall(task_id, agent_id=agent, timeout=timeout, retry=retry,
                              priority=priority)

        return await recall_tasks(ids, recall, concurrency=concurrency)
