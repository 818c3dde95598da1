"""Per-recipient status export (CSV or JSON, by the file's extension)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from ._inputs import InputError
from ._sdk import BroadcastReport, SendResult

FIELDS = ("userid", "mobile", "status", "batch", "task_id", "error")


def check_out_path(out: str | None) -> None:
    """``--out`` must be writable before anything is sent."""
    if out is None:
        return
    target = Path(out)
    parent = target.parent if str(target.parent) else Path(".")
    if target.suffix.lower() not in (".csv", ".json"):
        raise InputError(f"--out {out}: name a .csv or .json file")
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: directory {parent} does not exist or is not writable")
    if target.exists() and (target.is_dir() or not os.access(target, os.W_OK)):
        raise InputError(f"--out {out}: not a writable file")


def recipient_rows(
    report: BroadcastReport,
    result: SendResult | None,
    mobiles: dict[str, str],
    unknown_mobiles: list[str],
) -> list[dict[str, object]]:
    """One row per recipient with its final state: read/unread/invalid/forbidden/failed/
    throttled after --wait, else accepted or the batch's state; a recipient re-sent in a
    resend round is one row, its last batch wins. Unknown mobiles and rejected inputs too."""
    status: dict[str, str] = {}
    if result is not None:
        for name, ids in (("throttled", result.throttled_userids),
                          ("unread", result.unread_userids), ("read", result.read_userids),
                          ("failed", result.failed_userids),
                          ("forbidden", result.forbidden_userids),
                          ("invalid", result.invalid_userids)):
            status.update(dict.fromkeys(ids, name))
    by_user: dict[str, dict[str, object]] = {}
    for batch in report.batches:
        error = "" if batch.error is None else f"{type(batch.error).__name__}: {batch.error}"
        for userid in batch.userids:
            state = (f"batch_{batch.state}" if batch.task_id is None
                     else status.get(userid, "accepted"))
            by_user[userid] = {"userid": userid, "mobile": mobiles.get(userid, ""),
                               "status": state, "batch": batch.index,
                               "task_id": batch.task_id or "", "error": error}
    rows: list[dict[str, object]] = list(by_user.values())  # re-sent: last batch wins
    rows.extend({"userid": "", "mobile": m, "status": "unknown_mobile", "batch": "",
                 "task_id": "", "error": ""} for m in unknown_mobiles)
    rows.extend({"userid": str(v), "mobile": "", "status": "rejected", "batch": "",
                 "task_id": "", "error": why} for v, why in report.rejected)
    return rows


def export(path: str, rows: list[dict[str, object]]) -> None:
    """Write ``rows`` as JSON (``.json``) or CSV (anything else)."""
    target = Path(path)
    if target.suffix.lower() == ".json":
        target.write_text(json.dumps(rows, ensure_ascii=False, indent=1), "utf-8")
        return
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
