"""Work notifications (``corpconversation``): send, progress, result, recall, status bar."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence

import msgspec

from .._constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_POLL_INTERVAL,
    PATH_ASYNCSEND,
    PATH_PROGRESS,
    PATH_RECALL,
    PATH_RESULT,
    PATH_STATUS_BAR,
)
from .._errors import ResponseDecodeError, ValidationError
from .._oapi import OapiCaller
from .._pacing import AdaptivePacer, call_paced
from .._polling import recall_tasks, wait_for_tasks
from .._retry import RetryPolicy
from .._sendbody import SendBody, check_agent_id, unique_dept_ids, unique_userids
from .._transport import RetryHook
from .._wire import Envelope, ProgressResponse, RawSendResult, ResultResponse, SendResponse
from .._wire import split_list as _split
from ..broadcast import BroadcastEvent, BroadcastReport, run_broadcast
from ..messages import Message
from ..models import ForbiddenRecord, SendProgress, SendResult

_encode = msgspec.json.Encoder().encode


def _task_id(task_id: object) -> int:
    if isinstance(task_id, bool) or not isinstance(task_id, int) or task_id <= 0:
        raise ValidationError(f"task_id must be a positive int, got {task_id!r}")
    return task_id


def parse_send_result(raw: RawSendResult | None) -> SendResult:
    """Accept both the live array form and the older comma strings."""
    if raw is None:
        return SendResult()
    depts: list[int] = []
    for item in _split(raw.invalid_dept_id_list):
        try:
            depts.append(int(item))
        except ValueError:
            raise ResponseDecodeError(f"invalid_dept_id_list holds {item!r}") from None
    return SendResult(
        invalid_userids=_split(raw.invalid_user_id_list),
        forbidden_userids=_split(raw.forbidden_user_id_list),
        failed_userids=_split(raw.failed_user_id_list),
        read_userids=_split(raw.read_user_id_list),
        unread_userids=_split(raw.unread_user_id_list),
        invalid_dept_ids=depts,
        forbidden=[
            ForbiddenRecord(userid=f.userid, code=str(f.code), count=f.count)
            for f in raw.forbidden_list or ()
        ],
    )


class WorkNotice:
    """``client.work_notice``."""

    def __init__(self, api: OapiCaller, agent_id: int | None) -> None:
        self._api = api
        self._agent_id = agent_id

    def _agent(self, agent_id: int | None) -> int:
        return check_agent_id(agent_id if agent_id is not None else self._agent_id)

    async def send(
        self,
        message: Message,
        *,
        userids: Iterable[str] = (),
        dept_ids: Iterable[int] = (),
        to_all_user: bool = False,
        agent_id: int | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> int:
        """Queue one work notification; returns DingTalk's ``task_id``.

        At most 100 userids and 20 dept ids (after de-duplication); ``broadcast`` takes
        any number. Acceptance is not delivery: check ``get_result``.
        """
        body = SendBody(message, self._agent(agent_id), to_all_user=bool(to_all_user))
        rendered = body.render(unique_userids(userids), unique_dept_ids(dept_ids))
        return await self.send_body(rendered, timeout=timeout, retry=retry)

    async def send_body(
        self,
        body: bytes,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        on_retry: RetryHook | None = None,
    ) -> int:
        """Send a pre-rendered asyncsend_v2 body (the broadcast hot path)."""
        envelope = await self._api.call(
            "POST", PATH_ASYNCSEND, SendResponse,
            body=body, timeout=timeout, retry=retry, on_retry=on_retry,
        )
        if envelope.task_id is None:
            raise ResponseDecodeError(f"{PATH_ASYNCSEND}: response has no task_id")
        return envelope.task_id

    async def get_progress(
        self, task_id: int, *, agent_id: int | None = None, timeout: float | None = None,
        on_retry: RetryHook | None = None,
    ) -> SendProgress:
        """How far DingTalk has got delivering ``task_id``."""
        body = _encode({"agent_id": self._agent(agent_id), "task_id": _task_id(task_id)})
        envelope = await self._api.call(
            "POST", PATH_PROGRESS, ProgressResponse, body=body, timeout=timeout,
            on_retry=on_retry,
        )
        if envelope.progress is None:
            raise ResponseDecodeError(f"{PATH_PROGRESS}: response has no progress")
        return SendProgress(
            percent=envelope.progress.progress_in_percent, status=envelope.progress.status
        )

    async def get_result(
        self, task_id: int, *, agent_id: int | None = None, timeout: float | None = None,
        on_retry: RetryHook | None = None,
    ) -> SendResult:
        """Who was invalid, forbidden, failed, read and unread for ``task_id``."""
        body = _encode({"agent_id": self._agent(agent_id), "task_id": _task_id(task_id)})
        envelope = await self._api.call(
            "POST", PATH_RESULT, ResultResponse, body=body, timeout=timeout, on_retry=on_retry,
        )
        return parse_send_result(envelope.send_result)

    async def recall(
        self, task_id: int, *, agent_id: int | None = None, timeout: float | None = None,
        on_retry: RetryHook | None = None,
    ) -> None:
        """Withdraw a sent notification from every recipient."""
        body = _encode({"agent_id": self._agent(agent_id), "msg_task_id": _task_id(task_id)})
        await self._api.call("POST", PATH_RECALL, Envelope, body=body, timeout=timeout,
                             on_retry=on_retry)

    async def update_status_bar(
        self,
        task_id: int,
        status_value: str,
        *,
        status_bg: str | None = None,
        agent_id: int | None = None,
        timeout: float | None = None,
    ) -> None:
        """Change the status bar of an OA message already sent."""
        if not isinstance(status_value, str) or not status_value:
            raise ValidationError("status_value must be a non-empty string")
        payload: dict[str, object] = {
            "agent_id": self._agent(agent_id), "task_id": _task_id(task_id),
            "status_value": status_value,
        }
        if status_bg is not None:
            payload["status_bg"] = status_bg
        await self._api.call("POST", PATH_STATUS_BAR, Envelope, body=_encode(payload),
                             timeout=timeout)

    async def broadcast(
        self,
        message: Message,
        *,
        userids: Iterable[str] | AsyncIterable[str] = (),
        dept_ids: Iterable[int] = (),
        to_all_user: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        timeout: float | None = None,
        agent_id: int | None = None,
        retry: RetryPolicy | None = None,
        on_event: Callable[[BroadcastEvent], None] | None = None,
        report: BroadcastReport | None = None,
        acknowledged: Mapping[int, int] | None = None,
    ) -> BroadcastReport:
        """Notify any number of people: batches of 100 userids and 20 dept ids.

        Recipients are de-duplicated in order; ``userids`` may be a generator or async
        iterator of any length. At most ``concurrency`` calls are in flight and, with
        ``rate``, at most that many per second. Every batch ends acknowledged (its
        ``task_id`` in ``report.task_ids``) or in ``report.failed`` with its error.
        A list of userids is fully checked before anything is sent; a stream's invalid
        entries are skipped and listed in ``report.rejected``.
        """
        body = SendBody(message, self._agent(agent_id), to_all_user=bool(to_all_user))
        policy = retry if retry is not None else self._api.transport.retry
        once = RetryPolicy.none()

        async def send(userids: Sequence[bytes], dept_ids: Sequence[int]) -> int:
            return await self.send_body(body.render_raw(userids, dept_ids), retry=once)

        if to_all_user:
            if (isinstance(userids, Sequence) and userids) or list(dept_ids):
                raise ValidationError("to_all_user sends to everyone: give no userids/dept_ids")
            return await run_broadcast(
                send, (), (), concurrency=1, rate=rate, retry=policy, timeout=timeout,
                on_event=on_event, report=report, acknowledged=acknowledged, allow_empty=True,
            )
        return await run_broadcast(
            send, userids, dept_ids, concurrency=concurrency, rate=rate, retry=policy,
            timeout=timeout, on_event=on_event, report=report, acknowledged=acknowledged,
        )

    async def wait(
        self,
        task_ids: Iterable[int],
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        agent_id: int | None = None,
    ) -> SendResult:
        """Wait until DingTalk has processed every task, then merge their send results.

        Polls share DingTalk's per-API QPS limit: ``rate`` paces them (calls per second);
        without it pacing starts at the first 90018. Raises ``DeliveryTimeoutError`` (a
        ``TimeoutError``) listing unfinished tasks.
        """
        agent = self._agent(agent_id)
        ids = [_task_id(t) for t in task_ids]
        polls, fetches = AdaptivePacer(rate), AdaptivePacer(rate)

        async def progress(task_id: int) -> SendProgress:
            return await call_paced(polls, lambda hook: self.get_progress(
                task_id, agent_id=agent, on_retry=hook))

        async def result(task_id: int) -> SendResult:
            return await call_paced(fetches, lambda hook: self.get_result(
                task_id, agent_id=agent, on_retry=hook))

        return await wait_for_tasks(
            ids, progress, result, poll_interval=poll_interval, timeout=timeout,
            concurrency=concurrency,
        )

    async def recall_all(
        self,
        task_ids: Iterable[int],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        agent_id: int | None = None,
    ) -> dict[int, Exception]:
        """Recall every task; returns ``{task_id: error}`` for those that could not be."""
        agent = self._agent(agent_id)
        ids = [_task_id(t) for t in task_ids]
        pacer = AdaptivePacer(rate)

        async def recall(task_id: int) -> None:
            await call_paced(pacer, lambda hook: self.recall(task_id, agent_id=agent,
                                                             on_retry=hook))

        return await recall_tasks(ids, recall, concurrency=concurrency)
