"""What every broadcast command shares around the SDK's fan-out: the batch size decided once,
the journal's plan, progress, stopping at the first fatal answer, the problem batches.

``broadcast`` and ``robot broadcast`` each call their channel's SDK method; this module
gives both the same plan, journal, progress bar and stop rule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from ._audience import Audience
from ._display import BroadcastProgress, Output
from ._journal import Journal, Weigh
from ._sdk import (
    BroadcastEvent,
    BroadcastReport,
    ConnectionFailedError,
    CredentialsError,
    batch_count,
)

Hook = Callable[[BroadcastEvent[Any]], None]


@dataclass(frozen=True)
class BatchSizes:
    """How one run cuts its recipients, decided once from the channel (the work-notice
    quota, the robot's limit) and handed to the plan, the journal and the progress bar.
    ``dept_ids_per_call`` is None for a channel that takes no dept ids."""

    userids_per_call: int
    dept_ids_per_call: int | None = None

    def limits(self) -> dict[str, int]:
        """The sizes as ``plan_batches``/``batch_count`` keywords."""
        limits = {"userids_per_call": self.userids_per_call}
        if self.dept_ids_per_call is not None:
            limits["dept_ids_per_call"] = self.dept_ids_per_call
        return limits

    def count(self, audience: Audience) -> int:
        """How many calls the audience takes."""
        return batch_count(len(audience.userids), len(audience.dept_ids), **self.limits())


def plan(journal: Journal | None, message_hash: str, audience: Audience, sizes: BatchSizes,
         out: Output, weigh: Weigh | None = None) -> dict[int, Any]:
    """The journal's plan: ``{batch index: receipt}`` a previous run already got
    acknowledged (empty without a journal). ``weigh``: see ``Journal.prepare``."""
    if journal is None:
        return {}
    acknowledged = journal.prepare(message_hash, audience.userids, audience.dept_ids,
                                   userids_per_call=sizes.userids_per_call,
                                   dept_ids_per_call=sizes.dept_ids_per_call, weigh=weigh)
    if acknowledged:
        out.notice(f"resuming: {len(acknowledged)} batch(es) already acknowledged")
    return acknowledged


class StopOnFatal:
    """Stops the run at the first failure that proves it cannot succeed: credentials
    rejected, or the server unreachable (a connection failure, retried or not, before
    anything was acknowledged). Retrying every batch would only delay the same answer."""

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.error: BaseException | None = None

    def __call__(self, event: BroadcastEvent[Any]) -> None:
        if event.kind not in ("failed", "retry") or self.error is not None:
            return
        error = event.error
        unreachable = isinstance(error, ConnectionFailedError) and not event.report.acknowledged
        if isinstance(error, CredentialsError) or unreachable:
            self.error = error
            self.scope.cancel()


def tee(*hooks: Hook) -> Hook:
    """One hook that calls each of ``hooks`` in turn."""

    def emit(event: BroadcastEvent[Any]) -> None:
        for hook in hooks:
            hook(event)
    return emit


async def fan_out(start: Callable[[Hook], Awaitable[object]], *, total: int,
                  journal: Journal | None, quiet: bool) -> None:
    """``start(on_event)`` the SDK's broadcast, journaled, with a progress bar of ``total``
    batches; stopped early by ``StopOnFatal``, whose error is raised. The caller passes
    the SDK a ``report=`` of its own, which holds what was done however the run ends."""
    hooks: list[Hook] = [journal.record] if journal is not None else []
    stop = StopOnFatal()
    with BroadcastProgress(total, quiet=quiet) as progress, stop.scope:
        await start(tee(progress, *hooks, stop))
    if stop.error is not None:
        raise stop.error


def notice_problems(report: BroadcastReport[Any], out: Output) -> None:
    """Why the run stopped early (90020, a rate-limit storm), then the first failed or
    unknown batches, one notice each."""
    if report.stopped_by is not None:
        out.notice(f"stopped early, the rest not sent: {type(report.stopped_by).__name__}: "
                   f"{report.stopped_by}")
    for batch in [*report.failed, *report.unknown][:5]:
        out.notice(f"{batch.state} batch {batch.index}: "
                   f"{type(batch.error).__name__}: {batch.error}")
