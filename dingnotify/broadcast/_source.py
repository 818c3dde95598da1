"""Batches in input order for any number of workers, without a queue.

A collection is checked and de-duplicated whole before anything is sent, then cut into
tuple slices; a stream (an iterator or async iterator) is read as many ids as the next
batch still needs, its invalid entries rejected as they come. In the common case (all
valid, none seen before) the tuple read from the stream is the batch's ``userids`` and the
join that checked it is the body's ``userid_list``: one container copy and one join per
batch. Either way ``BatchPlanner`` numbers the batches and slices the dept ids, the same
rule the CLI's journal uses.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Collection,
    Iterator,
    Mapping,
)
from itertools import chain, islice
from typing import Generic, cast

from .._errors import TransportError
from .._recipients import (
    BatchPlanner,
    Deduper,
    UserIdStream,
    check_userids_container,
    checked_userids,
    valid_joined,
    valid_userid,
)
from ._report import Batch, BroadcastReport, K

Reject = Callable[[object], None]
_NOT_VALID = "not a valid DingTalk userid"


class BatchSource(Generic[K]):
    """Hands out the next batch to whichever worker asks; only in-flight batches and the
    report's records are held, however long the input."""

    def __init__(
        self,
        userids: UserIdStream,
        planner: BatchPlanner,
        report: BroadcastReport[K],
        acknowledged: Mapping[int, K],
        reject: Reject,
        skip: Callable[[Batch[K]], None],
        *,
        at_least_one: bool = False,
        unknown: Collection[int] = (),
    ) -> None:
        self._async: AsyncIterable[object] | None = None
        self._sync: Iterator[object] = iter(())
        self._ids: tuple[str, ...] | None = None
        self.exhausted = False
        if isinstance(userids, AsyncIterable):
            self._async = userids
        elif isinstance(userids, Iterator):
            self._sync = userids
        else:  # a collection: checked whole, then sliced
            check_userids_container(userids)
            ids = checked_userids(userids)
            self._ids = ids if type(ids) is tuple else tuple(ids)
            self.exhausted = not self._ids
        self._aiter: AsyncIterator[object] | None = None
        self._planner = planner
        self._size = planner.userids_per_call
        self._dedup = Deduper()
        self._report = report
        self._done = acknowledged
        self._unknown = unknown
        self._reject = reject
        self._skip = skip
        self._at_least_one = at_least_one
        self._taken = 0  # ids of a collection already batched
        self._parts: list[tuple[str, ...]] = []  # the next batch's ids so far (a stream)
        self._have = 0
        self._joined: str | None = None  # the join of the only part, when it is whole

    @property
    def is_async(self) -> bool:
        """Whether batches come from an async iterable (reading them awaits)."""
        return self._async is not None

    async def next(self) -> Batch[K] | None:
        """The next batch to send (acknowledged ones of a resumed run are recorded and
        skipped, and so are the ``unknown`` ones, left unknown), or None when the input is
        used up."""
        while True:
            if self._async is None:
                self._fill_sync()
            else:
                await self._fill_async()
            batch = self._form()
            if batch is None:
                return None
            self._report.batches.append(batch)
            task_id = self._done.get(batch.index)
            if task_id is None and batch.index not in self._unknown:
                batch.userid_list, self._joined = self._joined, None
                return batch
            self._joined = None
            if task_id is None:
                batch.maybe_sent, batch.error = True, TransportError(
                    "an earlier run left this batch unknown (it may have been sent): "
                    "not sent again")
            else:
                batch.task_id = task_id
            self._skip(batch)

    def _wanted(self) -> int:
        """How many more ids of a stream the next batch needs (0: it is ready)."""
        return 0 if self.exhausted or self._ids is not None else self._size - self._have

    def _fill_sync(self) -> None:
        while wanted := self._wanted():
            self._add(tuple(islice(self._sync, wanted)), wanted)

    async def _fill_async(self) -> None:
        assert self._async is not None
        if self._aiter is None:
            self._aiter = aiter(self._async)
        while wanted := self._wanted():
            chunk: list[object] = []
            async for u in self._aiter:
                chunk.append(u)
                if len(chunk) == wanted:
                    break
            self._add(tuple(chunk), wanted)

    def _add(self, chunk: tuple[object, ...], wanted: int) -> None:
        """Keep the valid, unseen ids of ``chunk`` (``wanted`` were asked for)."""
        if len(chunk) < wanted:
            self.exhausted = True
        joined = valid_joined(chunk)
        ids = cast("tuple[str, ...]", chunk if joined is not None else tuple(
            u for u in chunk if self._valid(u)))
        part = self._dedup.fresh(ids)
        if part:
            self._joined = joined if not self._parts and part is chunk else None
            self._parts.append(part)
            self._have += len(part)
        if self.exhausted:
            self._dedup = Deduper()  # no id is coming any more: drop the set now

    def _valid(self, u: object) -> bool:
        if valid_userid(u):
            return True
        self._report.rejected.append((u, _NOT_VALID))
        self._reject(u)
        return False

    def _userids(self) -> tuple[str, ...]:
        """The next batch's userids (possibly none), taken from the input."""
        if self._ids is not None:
            start = self._taken
            self._taken += self._size
            self.exhausted = self._taken >= len(self._ids)
            return self._ids[start : self._taken]
        parts = self._parts
        userids = parts[0] if len(parts) == 1 else tuple(chain.from_iterable(parts))
        self._parts, self._have = [], 0
        return userids

    def _form(self) -> Batch[K] | None:
        planner = self._planner
        if self.exhausted:  # what is left: ids, dept ids, or the one batch of to_all_user
            ready = bool(self._have) or planner.more_needed() or (
                self._at_least_one and planner.planned == 0)
        else:  # a stream's batch is full (``_wanted`` is 0), or a collection has more
            ready = True
        if not ready:
            return None
        planned = planner.next(self._userids())
        self._report.recipients += len(planned.userids)
        return Batch(planned.index, planned.userids, planned.dept_ids)
