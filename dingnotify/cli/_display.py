"""Live broadcast progress and summaries: rich when installed, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from ..broadcast import BroadcastEvent, BroadcastReport
from ..models import SendResult

try:  # rich is the optional `cli` extra
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
except ImportError:  # pragma: no cover - exercised only without the extra
    Console = None  # type: ignore[assignment,misc]


def say(text: str, *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


class BroadcastProgress:
    """Counts batches sent/failed, recipients covered, call rate and ETA."""

    PLAIN_EVERY = 2.0

    def __init__(self, total_batches: int | None, *, quiet: bool = False) -> None:
        self.total = total_batches
        self.quiet = quiet
        self.sent = self.failed = self.retries = self.covered = 0
        self.started = time.monotonic()
        self._last_plain = 0.0
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> BroadcastProgress:
        if not self.quiet and Console is not None and sys.stderr.isatty():
            self._progress = Progress(
                TextColumn("[bold]broadcast"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("broadcast", total=self.total, detail="")
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(et, e, tb)
        elif not self.quiet:
            self._plain(force=True)

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return (self.sent + self.failed) / elapsed if elapsed > 0 else 0.0

    def detail(self) -> str:
        return (f"sent {self.sent}  failed {self.failed}  retries {self.retries}  "
                f"recipients {self.covered}  {self.rate():.1f} calls/s")

    def __call__(self, event: BroadcastEvent) -> None:
        batch = event.batch
        if event.kind in ("sent", "skipped") and batch is not None:
            self.sent += 1
            self.covered += len(batch.userids)
        elif event.kind == "failed":
            self.failed += 1
        elif event.kind == "retry":
            self.retries += 1
            return
        else:
            return
        if self._progress is not None:
            self._progress.update(self._task, completed=self.sent + self.failed,
                                  detail=self.detail())
        elif not self.quiet:
            self._plain()

    def _plain(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_plain >= self.PLAIN_EVERY:
            self._last_plain = now
            done = self.sent + self.failed
            eta = ""
            if self.total and done and not force:
                eta = f"  eta {(self.total - done) / max(self.rate(), 1e-9):.0f}s"
            total = f"/{self.total}" if self.total else ""
            say(f"batches {done}{total}  {self.detail()}{eta}", err=True)


def summarize_report(report: BroadcastReport) -> str:
    return (
        f"batches: {len(report.batches)}  acknowledged: {len(report.acknowledged)}  "
        f"failed: {len(report.failed)}  recipients: {report.recipients}  "
        f"rejected inputs: {len(report.rejected)}  retries: {report.retries}  "
        f"rate-limited: {report.rate_limited}  elapsed: {report.elapsed:.1f}s"
    )


def summarize_result(result: SendResult) -> str:
    c = result.counts()
    return (f"invalid: {c['invalid']}  forbidden: {c['forbidden']}  failed: {c['failed']}  "
            f"read: {c['read']}  unread: {c['unread']}  invalid depts: {c['invalid_depts']}")
