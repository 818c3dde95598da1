"""The command line and its journal under misuse (issue 13, findings 9-15): each case ends
in one line on stderr and a documented exit code, and nothing is sent that should not be."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from dingnotify.testing import Emulator, Fault, FaultPlan
from tests.cli_e2e.conftest import SEND, cli_env, run_cli

USERS = [f"u{i:06d}" for i in range(1, 3001)]
RESULT = "/topapi/message/corpconversation/getsendresult"
PROGRESS = "/topapi/message/corpconversation/getsendprogress"


def one_line_error(stderr: str, prefix: str = "dingnotify: error:") -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix), stderr
    return lines[0]


def slow_broadcast(emu: Emulator, ids: Path, journal: Path) -> subprocess.Popen[bytes]:
    """A journaled broadcast of 30 batches at 10 calls/s, started once 5 tasks exist."""
    args = ["broadcast", "--recipients", str(ids), "--text", "slow", "--journal", str(journal),
            "--rate", "10", "--concurrency", "1", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "dingnotify.cli", *args], env=cli_env(emu),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(emu.tasks) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(emu.tasks) >= 5, "the broadcast never got going"
    return proc


def test_second_run_on_a_journal_in_use_exits_2_at_once(emu: Emulator, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(USERS))
    journal = tmp_path / "j.sqlite"
    first = slow_broadcast(emu, ids, journal)
    try:
        started = time.monotonic()
        second = run_cli(["broadcast", "--recipients", str(ids), "--text", "slow",
                          "--journal", str(journal), "--quiet"], cli_env(emu))
        took = time.monotonic() - started
        sends_after_second = emu.count(SEND)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    assert second.returncode == 2 and took < 10
    assert f"journal {journal} in use by pid {first.pid}" in one_line_error(second.stderr)
    assert sends_after_second <= 30  # the first run's batches only: nothing sent twice
    # The lock died with the SIGKILLed process: the same command resumes.
    third = run_cli(["broadcast", "--recipients", str(ids), "--text", "slow",
                     "--journal", str(journal), "--quiet"], cli_env(emu))
    assert third.returncode == 0, third.stderr
    assert all(len(emu.inboxes[u]) == 1 for u in USERS)


def test_journal_file_alone_holds_every_acknowledged_batch_after_sigkill(
    emu: Emulator, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(USERS))
    journal = tmp_path / "j.sqlite"
    first = slow_broadcast(emu, ids, journal)
    time.sleep(0.3)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    time.sleep(0.3)
    alone = tmp_path / "copy" / "j.sqlite"
    alone.parent.mkdir()
    shutil.copy(journal, alone)  # the .sqlite file only: no -wal, no -journal
    with closing(sqlite3.connect(alone)) as db:
        (acked,) = db.execute(
            "SELECT COUNT(*) FROM batches WHERE state='acknowledged'").fetchone()
        (planned,) = db.execute("SELECT COUNT(*) FROM batches").fetchone()
    assert planned == 30
    assert acked >= len(emu.tasks) - 1  # at most the one batch in flight at the kill


def _make_journal(emu: Emulator, tmp_path: Path) -> tuple[list[str], Path]:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(USERS[:250]))
    journal = tmp_path / "j.sqlite"
    args = ["broadcast", "--recipients", str(ids), "--text", "damaged", "--journal",
            str(journal), "--quiet"]
    assert run_cli(args, cli_env(emu)).returncode == 0
    return args, journal


def _sql(journal: Path, statement: str) -> None:
    with closing(sqlite3.connect(journal)) as db:
        db.execute(statement)
        db.commit()


DAMAGE = {
    "emptied": lambda j: j.write_bytes(b""),
    "garbage": lambda j: j.write_bytes(os.urandom(4096)),
    "truncated": lambda j: j.write_bytes(j.read_bytes()[:1500]),
    "corrupted": lambda j: j.write_bytes(j.read_bytes()[:4096] + b"\xff" * 4096
                                         + j.read_bytes()[8192:]),
    "row deleted": lambda j: _sql(j, "DELETE FROM batches WHERE idx=1"),
    "table dropped": lambda j: _sql(j, "DROP TABLE batches"),
    "foreign": lambda j: (j.unlink(), _sql(j, "CREATE TABLE meta (key TEXT, value TEXT)")),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_journal_exits_2_and_sends_nothing(emu: Emulator, tmp_path: Path,
                                                   damage: str) -> None:
    args, journal = _make_journal(emu, tmp_path)
    _sql(journal, "UPDATE batches SET state='failed', task_id=NULL")  # all to be re-sent
    DAMAGE[damage](journal)
    before = emu.count(SEND)
    out = run_cli(args, cli_env(emu))
    assert out.returncode == 2, out.stderr
    assert "journal" in one_line_error(out.stderr)
    assert emu.count(SEND) == before


def test_existing_empty_file_is_never_a_new_journal(emu: Emulator, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    journal.touch()
    out = run_cli(["broadcast", "--user", "u000001", "--text", "x", "--journal", str(journal)],
                  cli_env(emu))
    assert out.returncode == 2 and "empty" in one_line_error(out.stderr)
    assert emu.count(SEND) == 0


def test_unknown_batches_are_journaled_and_resent() -> None:
    from types import SimpleNamespace

    from dingnotify.cli._journal import Journal

    def event(kind: str, index: int, **batch: object) -> object:
        return SimpleNamespace(kind=kind, error=TimeoutError("no answer"),
                               batch=SimpleNamespace(index=index, userids=("u0",),
                                                     dept_ids=(), **batch))

    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"unknown-{os.getpid()}.sqlite"
    path.unlink(missing_ok=True)
    journal = Journal(path)
    try:
        assert journal.prepare("m", [f"u{i}" for i in range(300)], [], userids_per_call=100) == {}
        journal.record(event("sent", 0, task_id=11, state="acknowledged"))  # type: ignore[arg-type]
        journal.record(event("failed", 1, task_id=None, state="unknown"))  # type: ignore[arg-type]
        journal.record(event("failed", 2, task_id=None, state="failed"))  # type: ignore[arg-type]
        assert journal.counts() == {"acknowledged": 1, "unknown": 1, "failed": 1}
        assert journal.acknowledged() == {0: 11}  # unknown and failed are re-sent
    finally:
        journal.close()
        path.unlink()


def _write(tmp_path: Path, name: str, data: str | bytes) -> str:
    target = tmp_path / name
    target.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(target)


BAD = {
    "128 KiB recipients line": lambda t: ["--recipients",
                                          _write(t, "big.csv", "userid\n" + "u" * 140_000)],
    "repeated CSV column": lambda t: ["--recipients",
                                      _write(t, "two.csv", "userid,userid\nu000001,u000002\n")],
    "non-UTF-8 --text": lambda t: [b"--text", b"caf\xe9"],
    "lone surrogate in --json": lambda t: [
        "--json", _write(t, "s.json", '{"msgtype": "text", "text": {"content": "\\ud800"}}')],
    "deeply nested --json": lambda t: ["--json", _write(t, "d.json", "[" * 100_000)],
    "TOML dingtalk = x": lambda t: ["--config", _write(t, "c.toml", 'dingtalk = "x"\n')],
    "--rate -1": lambda t: ["--rate", "-1"],
    "--timeout nan": lambda t: ["--timeout", "nan"],
    "--request-timeout 0": lambda t: ["--request-timeout", "0"],
    "--poll-interval 0": lambda t: ["--wait", "--poll-interval", "0"],
    "--out in a missing directory": lambda t: ["--out", str(t / "missing" / "r.csv")],
    "--concurrency 0": lambda t: ["--concurrency", "0"],
}


@pytest.mark.parametrize("case", list(BAD))
def test_input_errors_are_one_line_exit_2_before_sending(emu: Emulator, tmp_path: Path,
                                                         case: str) -> None:
    extra = BAD[case](tmp_path)
    base: list[str | bytes] = ["broadcast", "--user", "u000001", "--quiet"]
    if not any(flag in extra for flag in ("--text", b"--text", "--json")):
        base += ["--text", "hello"]
    env = cli_env(emu)
    out = subprocess.run([sys.executable, "-m", "dingnotify.cli", *base, *extra], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    one_line_error(out.stderr)
    assert emu.count(SEND) == 0


def test_wrong_secret_in_broadcast_exits_3(emu: Emulator, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(USERS[:500]))
    out = run_cli(["broadcast", "--recipients", str(ids), "--text", "x", "--quiet"],
                  cli_env(emu, DINGTALK_APP_SECRET="not-the-secret"))
    assert out.returncode == 3, out.stderr
    one_line_error(out.stderr, "dingnotify: credentials:")
    assert emu.count(SEND) == 0


def test_unreachable_server_in_broadcast_exits_5() -> None:
    env = cli_env(None, DINGTALK_APP_KEY="k", DINGTALK_APP_SECRET="s", DINGTALK_AGENT_ID="1",
                  DINGTALK_BASE_URL="http://127.0.0.1:9")
    started = time.monotonic()
    out = run_cli(["broadcast", "--user", "u1", "--user", "u2", "--text", "a",
                   "--request-timeout", "1", "--quiet"], env)
    assert out.returncode == 5, out.stderr
    one_line_error(out.stderr, "dingnotify: ConnectionFailedError:")
    assert time.monotonic() - started < 8  # was 11.8 s and exit 4 before the stop


def test_failed_progress_poll_still_writes_out_and_exits_4(emu: Emulator,
                                                           tmp_path: Path) -> None:
    # A userid-only task is confirmed from getsendresult alone: that is the poll to break.
    emu.faults = FaultPlan(rules=[Fault(path=RESULT, kind="errcode_40035"),
                                  Fault(path=PROGRESS, kind="errcode_40035")])
    results = tmp_path / "r.json"
    out = run_cli(["broadcast", "--user", "u000001", "--user", "u000002", "--text", "x",
                   "--wait", "--poll-interval", "0.1", "--out", str(results), "--quiet"],
                  cli_env(emu))
    assert out.returncode == 4, out.stderr
    assert "progress poll failed: InvalidArgumentError" in out.stderr
    rows = json.loads(results.read_text())
    assert {r["userid"]: r["status"] for r in rows} == {"u000001": "accepted",
                                                        "u000002": "accepted"}


def _config(tmp_path: Path, emu: Emulator, mode: int) -> Path:
    config = tmp_path / "dingnotify" / "config.toml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(f'[dingtalk]\napp_key = "{emu.app.app_key}"\n'
                      f'app_secret = "{emu.app.app_secret}"\nagent_id = {emu.app.agent_id}\n')
    config.chmod(mode)
    return config


def test_config_readable_by_others_warns_and_xdg_is_honoured(emu: Emulator,
                                                             tmp_path: Path) -> None:
    config = _config(tmp_path, emu, 0o644)
    env = cli_env(None, DINGTALK_BASE_URL=emu.url, XDG_CONFIG_HOME=str(tmp_path))
    del env["DINGNOTIFY_CONFIG"]
    loose = run_cli(["send", "--user", "u000001", "--text", "a"], env)
    assert loose.returncode == 0, loose.stderr
    assert f"{config} holds app_secret and is readable by others (mode 644)" in loose.stderr
    config.chmod(0o600)
    tight = run_cli(["send", "--user", "u000002", "--text", "a"], env)
    assert tight.returncode == 0 and "warning" not in tight.stderr


def test_journal_records_the_sizes_the_run_decided(tmp_path: Path) -> None:
    """The plan is cut with the run's sizes, and resumes only with the same ones."""
    from dingnotify.cli._journal import Journal, JournalMismatchError

    path = tmp_path / "depts.sqlite"
    journal = Journal(path)
    assert journal.prepare("m", ["u1", "u2", "u3"], list(range(1, 26)), userids_per_call=2,
                           dept_ids_per_call=10) == {}
    assert journal.counts() == {"planned": 3}  # max(ceil(3/2), ceil(25/10))
    journal.close()
    journal = Journal(path)
    try:
        with pytest.raises(JournalMismatchError, match="batches of 10 dept ids, not 20"):
            journal.prepare("m", ["u1", "u2", "u3"], list(range(1, 26)), userids_per_call=2,
                            dept_ids_per_call=20)
    finally:
        journal.close()
