"""Batches in input order for any number of workers, without a queue.

A collection is checked and de-duplicated whole before anything is sent; a stream (an
iterator or async iterator) is read a chunk at a time, its invalid entries rejected as
they come. Either way ``BatchPlanner`` slices, the same rule the CLI's journal uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from itertools import islice
from typing import Generic

from .._recipients import BatchPlanner, Deduper, UserIdStream, all_valid, unique_userids
from ._report import Batch, BroadcastReport, K

Reject = Callable[[object], None]


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
    ) -> None:
        self._async: AsyncIterable[object] | None = None
        self._sync: Iterator[object]
        self._checked = False
        if isinstance(userids, AsyncIterable):
            self._async = userids
            self._sync = iter(())
        elif isinstance(userids, Iterator):
            self._sync = userids
        else:
            self._sync = iter(unique_userids(userids))
            self._checked = True
        self._aiter: AsyncIterator[object] | None = None
        self._planner = planner
        self._size = planner.userids_per_call
        self._dedup = Deduper()
        self._report = report
        self._done = acknowledged
        self._reject = reject
        self._skip = skip
        self._at_least_one = at_least_one
        self._pending: list[str] = []
        self.exhausted = False

    @property
    def is_async(self) -> bool:
        """Whether batches come from an async iterable (reading them awaits)."""
        return self._async is not None

    async def next(self) -> Batch[K] | None:
        """The next batch to send (acknowledged ones of a resumed run are recorded and
        skipped), or None when the input is used up."""
        while True:
            batch = self._form_sync() if self._async is None else await self._form_async()
            if batch is None:
                return None
            self._report.batches.append(batch)
            task_id = self._done.get(batch.index)
            if task_id is None:
                return batch
            batch.task_id = task_id
            self._skip(batch)

    def _ready(self) -> Batch[K] | None:
        pending, planner = self._pending, self._planner
        if len(pending) >= self._size or (
            self.exhausted
            and (pending or planner.more_needed()
                 or (self._at_least_one and planner.planned == 0))
        ):
            planned = planner.next(pending[: self._size])
            del pending[: self._size]
            self._report.recipients += len(planned.userids)
            return Batch(planned.index, planned.userids, planned.dept_ids)
        return None

    def _take(self, chunk: list[object]) -> None:
        if self._checked:
            self._pending.extend(chunk)  # type: ignore[arg-type]
            return
        if not all_valid(chunk):
            good: list[object] = []
            for u in chunk:
                if all_valid([u]):
                    good.append(u)
                else:
                    self._report.rejected.append((u, "not a valid DingTalk userid"))
                    self._reject(u)
            chunk = good
        self._pending.extend(self._dedup.fresh(chunk))  # type: ignore[arg-type]

    def _form_sync(self) -> Batch[K] | None:
        while (batch := self._ready()) is None and not self.exhausted:
            chunk = list(islice(self._sync, self._size))
            if chunk:
                self._take(chunk)
            else:
                self.exhausted = True
        return batch

    async def _form_async(self) -> Batch[K] | None:
        assert self._async is not None
        if self._aiter is None:
            self._aiter = aiter(self._async)
        while (batch := self._ready()) is None and not self.exhausted:
            chunk: list[object] = []
            async for u in self._aiter:
                chunk.append(u)
                if len(chunk) == self._size:
                    break
            if chunk:
                self._take(chunk)
            else:
                self.exhausted = True
        return batch
