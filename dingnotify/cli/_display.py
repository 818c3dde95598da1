"""Live broadcast progress and summaries: rich when installed, plain lines otherwise."""

from __future__ import annotations

import json
import sys
import time
from types import TracebackType
from typing import Any

import msgspec

from ._sdk import BroadcastEvent, BroadcastReport, SendProgress, SendResult

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
    """One line on stdout, or on stderr with ``err=True``."""
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


class Output:
    """``--format text``: summaries on stdout. ``--format json``: one JSON document on
    stdout and every other line on stderr. Notices always go to stderr."""

    def __init__(self, fmt: str = "text") -> None:
        self.is_json = fmt == "json"

    def text(self, line: str) -> None:
        """A summary line: stdout in text mode, stderr in JSON mode."""
        say(line, err=self.is_json)

    def notice(self, line: str) -> None:
        """A notice: always stderr."""
        say(line, err=True)

    def json(self, data: object) -> None:
        """The JSON document (JSON mode only)."""
        if self.is_json:
            say(json.dumps(data, ensure_ascii=False))

    @staticmethod
    def builtins(value: object) -> dict[str, Any]:
        """A msgspec Struct as plain JSON-ready data."""
        data: dict[str, Any] = msgspec.to_builtins(value)
        return data


def report_data(report: BroadcastReport[Any]) -> dict[str, object]:
    """The broadcast report as JSON-ready data."""
    problems = [*report.failed, *report.unknown]
    return {
        "batches": len(report.batches), "acknowledged": len(report.acknowledged),
        "failed": len(report.failed), "unknown": len(report.unknown),
        "recipients": report.recipients, "rejected": len(report.rejected),
        "retries": report.retries, "rate_limited": report.rate_limited,
        "complete": report.complete, "elapsed": round(report.elapsed, 3),
        "task_ids": report.task_ids,
        "problems": [{"batch": b.index, "state": b.state,
                      "error": f"{type(b.error).__name__}: {b.error}"} for b in problems],
    }


def progress_data(task_id: int, progress: SendProgress) -> dict[str, object]:
    """One task's progress as JSON-ready data."""
    return {"task_id": task_id, "percent": progress.percent, "status": progress.status,
            "done": progress.done}


def _bar(label: str, total: int | None, quiet: bool) -> Any:
    """A rich progress bar on stderr named ``label``, or None (quiet, no rich, not a tty)."""
    if quiet or Console is None or not sys.stderr.isatty():
        return None
    bar = Progress(
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    bar.__enter__()
    bar.add_task(label, total=total, detail="")
    return bar


class LookupProgress:
    """Mobiles looked up, found and unknown, with rate and ETA, shown like the broadcast's
    progress (a bar on a terminal, a line every few seconds otherwise): thousands of lookups
    take minutes and are never silent. Numbers are never shown, only counts."""

    def __init__(self, total: int, *, quiet: bool = False) -> None:
        self.total, self.quiet = total, quiet or not total
        self.found = self.unknown = 0
        self.started = time.monotonic()
        self._last_plain = 0.0
        self._bar: Any = None

    def __enter__(self) -> LookupProgress:
        self._bar = _bar("mobiles", self.total, self.quiet)
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(et, e, tb)
        elif not self.quiet:
            self._plain(force=True)

    def __call__(self, mobile: str, userid: str | None) -> None:
        if userid is None:
            self.unknown += 1
        else:
            self.found += 1
        if self._bar is not None:
            self._bar.update(self._bar.task_ids[0], completed=self.found + self.unknown,
                             detail=self.detail())
        elif not self.quiet:
            self._plain()

    def detail(self) -> str:
        """The progress line's counters."""
        elapsed = time.monotonic() - self.started
        rate = (self.found + self.unknown) / elapsed if elapsed > 0 else 0.0
        return f"found {self.found}  unknown {self.unknown}  {rate:.1f} lookups/s"

    def _plain(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_plain >= BroadcastProgress.PLAIN_EVERY:
            self._last_plain = now
            say(f"mobiles {self.found + self.unknown}/{self.total}  {self.detail()}", err=True)


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
        self._progress = _bar("broadcast", self.total, self.quiet)
        self._task = None if self._progress is None else self._progress.task_ids[0]
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(et, e, tb)
        elif not self.quiet:
            self._plain(force=True)

    def rate(self) -> float:
        """Calls per second so far."""
        elapsed = time.monotonic() - self.started
        return (self.sent + self.failed) / elapsed if elapsed > 0 else 0.0

    def detail(self) -> str:
        """The progress line's counters."""
        return (f"sent {self.sent}  failed {self.failed}  retries {self.retries}  "
                f"recipients {self.covered}  {self.rate():.1f} calls/s")

    def __call__(self, event: BroadcastEvent[Any]) -> None:
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


def summarize_report(report: BroadcastReport[Any]) -> str:
    """The broadcast's one-line summary."""
    return (
        f"batches: {len(report.batches)}  acknowledged: {len(report.acknowledged)}  "
        f"failed: {len(report.failed)}  unknown: {len(report.unknown)}  "
        f"recipients: {report.recipients}  "
        f"rejected inputs: {len(report.rejected)}  retries: {report.retries}  "
        f"rate-limited: {report.rate_limited}  elapsed: {report.elapsed:.1f}s"
    )


def summarize_result(result: SendResult) -> str:
    """A delivery result's one-line summary."""
    c = result.counts()
    return (f"invalid: {c['invalid']}  forbidden: {c['forbidden']}  failed: {c['failed']}  "
            f"read: {c['read']}  unread: {c['unread']}  invalid depts: {c['invalid_depts']}")
