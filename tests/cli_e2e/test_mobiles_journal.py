"""Mobiles and the journal (issue 24, "Mobiles"): the journal is checked before any mobile
is looked up, lookups show progress on stderr, and each answer is kept in the journal so
a resumed run never looks a resolved mobile up again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from dingnotify.testing import Emulator, FaultPlan, Org
from tests.cli_e2e.conftest import SEND, ThreadedEmulator, cli_env, run_cli

LOOKUP = "/user/get_by_mobile"


def mobiles_file(path: Path, indexes: range, unknown: int = 0) -> Path:
    rows = [f"n{i},138{i:08d}" for i in indexes] + [f"x{i},1399999{i:04d}" for i in range(unknown)]
    path.write_text("name,mobile\n" + "\n".join(rows) + "\n")
    return path


def journaled(journal: Path) -> dict[str, str | None]:
    with closing(sqlite3.connect(journal)) as db:
        return dict(db.execute("SELECT mobile, userid FROM mobiles").fetchall())


def test_a_mismatched_journal_is_refused_before_any_lookup(emu: Emulator, tmp_path: Path) -> None:
    people = mobiles_file(tmp_path / "people.csv", range(1, 41))
    journal = tmp_path / "j.sqlite"
    base = ["broadcast", "--recipients", str(people), "--journal", str(journal), "--quiet"]
    assert run_cli([*base, "--text", "one"], cli_env(emu)).returncode == 0
    assert emu.count(LOOKUP) == 40

    other = run_cli([*base, "--text", "two"], cli_env(emu))
    assert other.returncode == 2
    (line,) = other.stderr.strip().splitlines()  # one line, whatever its prefix
    assert line.endswith(f"journal {journal} was made for a different message; "
                         "use a new journal")
    mobiles_file(people, range(1, 42))  # one mobile more
    more = run_cli([*base, "--text", "one"], cli_env(emu))
    assert more.returncode == 2 and "different recipients" in more.stderr
    assert len(more.stderr.strip().splitlines()) == 1
    assert emu.count(LOOKUP) == 40 and emu.count(SEND) == 1  # neither cost a call


def test_robot_broadcast_checks_the_journal_before_lookups(emu: Emulator,
                                                           tmp_path: Path) -> None:
    people = mobiles_file(tmp_path / "people.csv", range(1, 6))
    journal = tmp_path / "r.sqlite"
    env = cli_env(emu, DINGTALK_ROBOT_CODE=emu.robot_code, DINGTALK_API_BASE_URL=emu.url)
    base = ["robot", "broadcast", "--recipients", str(people), "--journal", str(journal),
            "--quiet"]
    assert run_cli([*base, "--text", "one"], env).returncode == 0, "first run"
    other = run_cli([*base, "--text", "two"], env)
    assert other.returncode == 2 and "different message" in other.stderr
    assert emu.count(LOOKUP) == 5


def test_resumed_after_the_lookups_looks_nothing_up_again(tmp_path: Path) -> None:
    faults = FaultPlan(script={SEND: ["http_400"]})  # the first run's one batch fails
    with ThreadedEmulator(org=Org.synthetic(n_users=100), faults=faults) as emu:
        people = mobiles_file(tmp_path / "people.csv", range(1, 31), unknown=2)
        journal = tmp_path / "j.sqlite"
        args = ["broadcast", "--recipients", str(people), "--text", "hi",
                "--journal", str(journal), "--quiet"]
        first = run_cli(args, cli_env(emu))
        assert first.returncode == 4, first.stderr
        assert emu.count(LOOKUP) == 32 and not emu.inboxes
        assert sum(u is None for u in journaled(journal).values()) == 2

        second = run_cli(args, cli_env(emu))
        assert second.returncode == 4, second.stderr  # the two unknown mobiles
        assert "resuming: 32 mobile(s) already resolved" in second.stderr
        assert "2 unknown mobile(s), e.g. 13999990000" in second.stderr
        assert emu.count(LOOKUP) == 32  # not one lookup more
        assert all(len(emu.inboxes[f"u{i:06d}"]) == 1 for i in range(1, 31))


def test_killed_during_lookups_resumes_with_the_rest(emu: Emulator, tmp_path: Path) -> None:
    """The client paces lookups (about 20 a second, DingTalk's user API budget): 300 take
    long enough to SIGKILL the run among them."""
    people = mobiles_file(tmp_path / "people.csv", range(1, 301))
    journal = tmp_path / "j.sqlite"
    args = ["broadcast", "--recipients", str(people), "--text", "hi",
            "--journal", str(journal), "--quiet"]
    env = cli_env(emu)
    first = subprocess.Popen([sys.executable, "-m", "dingnotify.cli", *args], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while emu.count(LOOKUP) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert 100 <= emu.count(LOOKUP) < 300, "the lookups never got going, or ended"
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait(10)
    time.sleep(0.3)  # let lookups already on the wire land
    kept, looked_up = journaled(journal), emu.count(LOOKUP)
    assert len(kept) >= 50 and emu.count(SEND) == 0  # committed in batches as they came

    second = run_cli(args, env, timeout=120)
    assert second.returncode == 0, second.stderr
    assert f"resuming: {len(kept)} mobile(s) already resolved" in second.stderr
    assert emu.count(LOOKUP) - looked_up == 300 - len(kept)  # only the ones not kept
    assert len(journaled(journal)) == 300
    assert all(len(emu.inboxes[f"u{i:06d}"]) == 1 for i in range(1, 301))


def test_lookups_show_progress_on_stderr_only(emu: Emulator, tmp_path: Path) -> None:
    people = mobiles_file(tmp_path / "people.csv", range(1, 21), unknown=1)
    base = ["broadcast", "--recipients", str(people), "--text", "hi"]
    shown = run_cli([*base, "--format", "json"], cli_env(emu))
    assert shown.returncode == 4, shown.stderr
    assert json.loads(shown.stdout)["unknown_mobiles"] == ["13999990000"]  # stdout: JSON only
    lines = [line for line in shown.stderr.splitlines() if line.startswith("mobiles ")]
    assert lines and lines[-1].startswith("mobiles 21/21  found 20  unknown 1  ")
    assert "13800000001" not in shown.stderr  # counts, never numbers
    quiet = run_cli([*base, "--quiet"], cli_env(emu))
    assert not any(line.startswith("mobiles ") for line in quiet.stderr.splitlines())
