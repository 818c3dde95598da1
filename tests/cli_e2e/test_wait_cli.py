"""``broadcast --wait --out`` keeps what the wait confirmed: a poll failing for good, the
wait timing out, or the credentials rejected midway still write every known result to
``--out``, then exit with the documented code; a poll failing only for a while is retried."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from dingnotify.testing import Emulator, Fault, FaultPlan
from tests.cli_e2e.conftest import cli_env, run_cli

RESULT = "/topapi/message/corpconversation/getsendresult"
USERS = [f"u{i:06d}" for i in range(1, 301)]  # three batches of 100


def broadcast(emu: Emulator, tmp_path: Path, *extra: str) -> tuple[int, dict[str, str],
                                                                   dict[str, object], str]:
    """(exit code, {userid: --out status}, the JSON document, stderr) of a --wait run whose
    polls go one at a time (``--concurrency 1``), so the scripted faults meet them in
    batch order."""
    ids, out = tmp_path / "ids.txt", tmp_path / "out.json"
    ids.write_text("\n".join(USERS))
    done = run_cli(["broadcast", "--recipients", str(ids), "--text", "w", "--wait",
                    "--poll-interval", "0.05", "--concurrency", "1", "--out", str(out),
                    "--format", "json", "--quiet", *extra], cli_env(emu))
    rows = {r["userid"]: r["status"] for r in json.loads(out.read_text())}
    return done.returncode, rows, json.loads(done.stdout), done.stderr


def test_a_fatal_poll_writes_what_was_confirmed_and_exits_4(emu: Emulator,
                                                           tmp_path: Path) -> None:
    emu.faults = FaultPlan(script={RESULT: ["ok", "ok", "errcode_60011"]})
    code, rows, doc, stderr = broadcast(emu, tmp_path)
    assert code == 4 and "progress poll failed: PermissionDeniedError" in stderr
    assert Counter(rows.values()) == {"unread": 200, "accepted": 100}
    assert all(rows[u] == "accepted" for u in USERS[200:])
    assert doc["result"]["unread"] == 200 and doc["exit_code"] == 4  # type: ignore[index]


def test_credentials_rejected_midway_write_what_was_confirmed_and_exit_3(
        emu: Emulator, tmp_path: Path) -> None:
    emu.faults = FaultPlan(script={RESULT: ["ok", "errcode_40089"]})
    code, rows, _, stderr = broadcast(emu, tmp_path)
    assert code == 3 and "CredentialsError" in stderr
    assert Counter(rows.values()) == {"unread": 100, "accepted": 200}


def test_a_timeout_writes_what_was_confirmed_and_counts_failed_polls(
        emu: Emulator, tmp_path: Path) -> None:
    """The third task's polls fail until --wait-timeout: its users stay 'accepted'."""
    emu.faults = FaultPlan(script={RESULT: ["ok", "ok"]},
                           rules=[Fault(path=RESULT, kind="http_503")])
    code, rows, doc, stderr = broadcast(emu, tmp_path, "--wait-timeout", "6")
    assert code == 4 and "delivery not finished: 1 of 3 tasks" in stderr
    assert "failed, trying again" in stderr
    assert Counter(rows.values()) == {"unread": 200, "accepted": 100}
    assert isinstance(doc["poll_errors"], int) and doc["poll_errors"] >= 1


def test_a_poll_failing_for_a_while_is_retried_and_the_wait_finishes(
        emu: Emulator, tmp_path: Path) -> None:
    """The third task's first poll spends its four attempts on 503s; its next succeeds."""
    emu.faults = FaultPlan(script={RESULT: ["ok", "ok", *["http_503"] * 4]})
    code, rows, doc, _ = broadcast(emu, tmp_path)
    assert code == 0
    assert Counter(rows.values()) == {"unread": 300}
    assert doc["poll_errors"] == 1
