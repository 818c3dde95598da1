"""The ``dingnotify`` command through its real entry point: results, files, exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dingnotify.testing import Emulator
from tests.cli_e2e.conftest import SEND, cli_env, run_cli


def one_line_error(stderr: str, prefix: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix), stderr


def test_send_to_users_and_mobiles(emu: Emulator) -> None:
    out = run_cli(["send", "--text", "hello from cli", "--user", "u000001",
                   "--mobile", "13800000002", "--quiet"], cli_env(emu))
    assert out.returncode == 0, out.stderr
    task_id = int(out.stdout.split("task_id:")[1].split()[0])
    assert task_id in emu.tasks
    for userid in ("u000001", "u000002"):
        assert emu.inboxes[userid][0].msg == {"msgtype": "text",
                                              "text": {"content": "hello from cli"}}


def test_send_unknown_mobile_is_partial(emu: Emulator) -> None:
    out = run_cli(["send", "--text", "x", "--user", "u000003", "--mobile", "13999999999"],
                  cli_env(emu))
    assert out.returncode == 4 and "unknown mobile: 13999999999" in out.stderr
    assert len(emu.inboxes["u000003"]) == 1


def test_broadcast_files_wait_and_export(emu: Emulator, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(f"u{i:06d}" for i in range(1, 251)) + "\nghost-1\n")
    people = tmp_path / "people.csv"
    people.write_text("name,mobile\nA,13800000300\nB,13800000301\nC,13999999999\n")
    note = tmp_path / "note.md"
    note.write_text("### Friday\nAll-hands at 15:00")
    results = tmp_path / "results.csv"
    out = run_cli(["broadcast", "--recipients", str(ids), "--recipients", str(people),
                   "--markdown", str(note), "--title", "All-hands", "--wait",
                   "--poll-interval", "0.1", "--out", str(results), "--quiet"], cli_env(emu))
    assert out.returncode == 4, out.stderr  # one unknown mobile: partial
    assert "1 unknown mobile(s)" in out.stderr
    assert "batches: 3  acknowledged: 3  failed: 0  unknown: 0  recipients: 253" in out.stdout
    assert "invalid: 1  forbidden: 0  failed: 0" in out.stdout
    assert emu.count(SEND) == 3
    assert emu.inboxes["u000300"][0].msg["markdown"]["title"] == "All-hands"
    rows = list(csv.DictReader(results.read_text().splitlines()))
    by_user = {r["userid"]: r for r in rows if r["userid"]}
    assert len(by_user) == 253 and by_user["ghost-1"]["status"] == "invalid"
    assert by_user["u000001"]["status"] in ("read", "unread")
    assert by_user["u000300"]["mobile"] == "13800000300"
    assert [r["mobile"] for r in rows if r["status"] == "unknown_mobile"] == ["13999999999"]


def test_broadcast_json_message_and_csv_column(emu: Emulator, tmp_path: Path) -> None:
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"msgtype": "action_card", "action_card": {
        "title": "Vote", "markdown": "Lunch?", "btn_orientation": "1",
        "btn_json_list": [{"title": "Yes", "action_url": "https://e/y"}]}}))
    staff = tmp_path / "staff.csv"
    staff.write_text("id,name\nu000010,A\nu000011,B\n")
    report = tmp_path / "r.json"
    out = run_cli(["broadcast", "--recipients", str(staff), "--column", "id", "--json",
                   str(card), "--out", str(report), "--quiet"], cli_env(emu))
    assert out.returncode == 0, out.stderr
    assert emu.inboxes["u000011"][0].msg["action_card"]["btn_json_list"][0]["title"] == "Yes"
    assert {r["status"] for r in json.loads(report.read_text())} == {"accepted"}


BAD_INPUT = [
    ["send", "--user", "u000001"],                                    # no message
    ["send", "--text", "a", "--json", "m.json", "--user", "u000001"],   # two messages
    ["broadcast", "--markdown", "note.md", "--recipients", "ids.txt"],  # no --title
    ["broadcast", "--text", "a", "--recipients", "missing.txt"],       # unreadable file
    ["broadcast", "--text", "a", "--recipients", "empty.txt"],         # empty file
    ["broadcast", "--text", "a", "--recipients", "nocol.csv"],         # no usable column
    ["broadcast", "--text", "a", "--recipients", "bad.txt"],           # invalid userid
    ["send", "--text", "x" * 3000, "--user", "u000001"],                # over 2048 bytes
    ["send", "--text", "a"],                                           # no recipients
]


@pytest.mark.parametrize("args", BAD_INPUT, ids=range(len(BAD_INPUT)))
def test_bad_input_exits_2_and_sends_nothing(emu: Emulator, tmp_path: Path,
                                             args: list[str]) -> None:
    (tmp_path / "m.json").write_text("{}")
    (tmp_path / "note.md").write_text("# hi")
    (tmp_path / "ids.txt").write_text("u000001\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "nocol.csv").write_text("a,b\n1,2\n")
    (tmp_path / "bad.txt").write_text("u000001\nhas,comma\n")
    out = run_cli([*args, "--quiet"], cli_env(emu), cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    one_line_error(out.stderr, "dingnotify: error:")
    assert emu.count(SEND) == 0


def test_credentials_errors_exit_3(emu: Emulator) -> None:
    missing = run_cli(["send", "--text", "a", "--user", "u1"], cli_env(None))
    assert missing.returncode == 3
    one_line_error(missing.stderr, "dingnotify: credentials:")
    wrong = run_cli(["send", "--text", "a", "--user", "u000001"],
                    cli_env(emu, DINGTALK_APP_SECRET="not-the-secret"))
    assert wrong.returncode == 3 and "40096" in wrong.stderr
    one_line_error(wrong.stderr, "dingnotify: credentials:")
    assert "not-the-secret" not in wrong.stderr + wrong.stdout
    assert emu.count(SEND) == 0


def test_unreachable_server_exits_5() -> None:
    env = cli_env(None, DINGTALK_APP_KEY="k", DINGTALK_APP_SECRET="s", DINGTALK_AGENT_ID="1",
                  DINGTALK_BASE_URL="http://127.0.0.1:9")
    out = run_cli(["send", "--text", "a", "--user", "u1", "--request-timeout", "1"], env)
    assert out.returncode == 5
    one_line_error(out.stderr, "dingnotify: ConnectionFailedError:")


def test_task_commands(emu: Emulator) -> None:
    sent = run_cli(["send", "--text", "t", "--user", "u000005"], cli_env(emu))
    task_id = sent.stdout.split("task_id:")[1].split()[0]
    for command, expected in (("progress", "done=True"), ("result", "unread: 1"),
                              ("recall", "recalled")):
        out = run_cli([command, task_id], cli_env(emu))
        assert out.returncode == 0 and expected in out.stdout, out.stderr
    assert not emu.inboxes.get("u000005")
    unknown = run_cli(["progress", "1"], cli_env(emu))
    assert unknown.returncode == 5
    one_line_error(unknown.stderr, "dingnotify: InvalidArgumentError:")


def test_demo_runs_without_credentials() -> None:
    out = run_cli(["demo", "--users", "2000", "--quiet"], cli_env(None), timeout=120)
    assert out.returncode == 0, out.stderr
    assert "batches: 21  acknowledged: 21  failed: 0  unknown: 0  recipients: 2003" in out.stdout
    assert "invalid: 3  forbidden: 0  failed: 0" in out.stdout
