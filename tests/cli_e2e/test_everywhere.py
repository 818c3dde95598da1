"""A CLI that works everywhere: no POSIX-only import, ``-`` for stdin, one error prefix,
help for a bare command, what is known of several tasks, the process emulator's robots,
webhook exit codes and secrets kept off the command line, every setting in the config."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import dingnotify
from dingnotify.cli._lock import FileLock, LockedError
from dingnotify.testing import Emulator
from dingnotify.testing.__main__ import build_parser as emulator_parser
from tests.cli_e2e.conftest import SEND, cli_env, run_cli

TOKEN, SECRET = "tok-everywhere", "SECeverywhere0123456789"


def run_with_stdin(args: list[str], env: dict[str, str], stdin: str,
                   ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dingnotify.cli", *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=60)


def one_line(out: subprocess.CompletedProcess[str], code: int, prefix: str) -> str:
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), out.stderr
    return lines[0]


# -- Windows: nothing POSIX-only at import time -------------------------------------------

def test_version_works_without_fcntl() -> None:
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "from dingnotify.cli import main\n"
            "sys.exit(main(['--version']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30)
    assert (out.returncode, out.stdout.strip()) == (0, f"dingnotify {dingnotify.__version__}")


def test_the_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    target = tmp_path / "j.sqlite"
    with FileLock(target) as first:
        with pytest.raises(LockedError) as info:
            FileLock(target).acquire()
        assert info.value.pid == str(os.getpid())
        assert first.path.read_text().strip() == str(os.getpid())
    with FileLock(target):  # released: free again
        pass


def test_the_windows_branch_locks_a_byte_past_the_pid(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``msvcrt.locking`` stood in by ``flock`` (Windows locks are mandatory: the pid must
    stay readable, so the lock covers a byte far past it)."""
    import fcntl

    calls: list[tuple[int, int]] = []

    def locking(fd: int, mode: int, nbytes: int) -> None:
        calls.append((os.lseek(fd, 0, os.SEEK_CUR), nbytes))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OSError("locked") from None

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "msvcrt", type(sys)("msvcrt"))
    monkeypatch.setattr(sys.modules["msvcrt"], "LK_NBLCK", 2, raising=False)
    monkeypatch.setattr(sys.modules["msvcrt"], "locking", locking, raising=False)
    with FileLock(tmp_path / "j.sqlite"), pytest.raises(LockedError) as info:
        FileLock(tmp_path / "j.sqlite").acquire()
    assert info.value.pid == str(os.getpid()) and calls == [(1 << 20, 1)] * 2


# -- `-` is standard input ----------------------------------------------------------------

def test_dash_reads_recipients_and_messages_from_stdin(emu: Emulator, tmp_path: Path) -> None:
    out = run_with_stdin(["broadcast", "--recipients", "-", "--text", "from a pipe", "--quiet"],
                         cli_env(emu), "u000011\nu000012\n")
    assert out.returncode == 0, out.stderr
    assert [len(emu.inboxes[u]) for u in ("u000011", "u000012")] == [1, 1]

    out = run_with_stdin(["send", "--user", "u000013", "--markdown", "-", "--title", "T"],
                         cli_env(emu), "### piped")
    assert out.returncode == 0, out.stderr
    assert emu.inboxes["u000013"][0].msg["markdown"]["text"] == "### piped"

    out = run_with_stdin(["send", "--user", "u000014", "--json", "-"], cli_env(emu),
                         '{"msgtype": "text", "text": {"content": "json pipe"}}')
    assert out.returncode == 0, out.stderr
    assert emu.inboxes["u000014"][0].msg["text"]["content"] == "json pipe"

    sends = emu.count(SEND)
    twice = run_with_stdin(["broadcast", "--recipients", "-", "--markdown", "-", "--title", "T"],
                           cli_env(emu), "u000015\n")
    one_line(twice, 2, "dingnotify: error: standard input (-) can be given to one flag only")
    assert emu.count(SEND) == sends


# -- what is known of several tasks --------------------------------------------------------

def test_progress_json_with_a_bad_task_prints_what_is_known(emu: Emulator) -> None:
    sent = run_cli(["send", "--text", "p", "--user", "u000021"], cli_env(emu))
    good = int(sent.stdout.split("task_id:")[1].split()[0])
    for command in ("progress", "result"):
        out = run_cli([command, "--format", "json", str(good), "1"], cli_env(emu))
        assert out.returncode == 4, out.stderr
        first, second = json.loads(out.stdout)
        assert first["task_id"] == good and "error" not in first
        assert second["task_id"] == 1 and second["error"].startswith("InvalidArgumentError")
        assert "1: InvalidArgumentError" in out.stderr
    text = run_cli(["progress", str(good), "1"], cli_env(emu))
    assert text.returncode == 4 and f"{good}: 100%" in text.stdout


# -- one prefix, help for a bare command ---------------------------------------------------

def test_errors_have_one_prefix_and_bare_command_prints_help() -> None:
    env = cli_env(None)
    assert one_line(run_cli(["send", "--bogus"], env), 2, "dingnotify: error:") == (
        "dingnotify: error: unrecognized arguments: --bogus")
    line = one_line(run_cli(["progress", "x"], env), 2, "dingnotify: error: progress: ")
    assert line.count("dingnotify") == 1
    bare = run_cli([], env)
    assert bare.returncode == 2 and bare.stdout.startswith("usage: dingnotify")
    assert "broadcast" in bare.stdout and "exit codes:" in bare.stdout and bare.stderr == ""


def test_emulator_help_names_itself_and_documents_every_flag() -> None:
    out = run_cli(["emulator", "--help"], cli_env(None))
    assert out.returncode == 0 and out.stdout.startswith("usage: dingnotify emulator")
    assert "--webhook-robot TOKEN[:SECRET]" in out.stdout
    for action in emulator_parser()._actions:
        assert action.help, f"emulator {action.option_strings} has no help"


@pytest.fixture
def process_emulator() -> Iterator[tuple[str, str]]:
    """``dingnotify emulator`` in a process hosting a signed webhook robot: (url, banner)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dingnotify.cli", "emulator", "--port", "0", "--users", "10",
         "--webhook-robot", f"{TOKEN}:{SECRET}"],
        env=cli_env(None), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    for _ in range(30):
        lines.append(proc.stdout.readline())
        if lines[-1].startswith("Press Ctrl-C") or not lines[-1]:
            break
    banner = "".join(lines)
    try:
        found = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert found, banner
        yield found.group(0), banner
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def test_process_emulator_hosts_webhook_robots_and_shows_the_robot_code(
        process_emulator: tuple[str, str], tmp_path: Path) -> None:
    url, banner = process_emulator
    assert re.search(r"robot_code\s*: ding\w+", banner), banner
    webhook = f"{url}/robot/send?access_token={TOKEN}"
    assert webhook in banner
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    sent = run_cli(["webhook", "--url", webhook, "--secret-file", str(secret_file),
                    "--text", "from a file"], cli_env(None))
    assert (sent.returncode, sent.stdout) == (0, "sent 1 message\n"), sent.stderr
    unsigned = run_cli(["webhook", "--url", webhook, "--text", "no secret"], cli_env(None))
    one_line(unsigned, 3, "dingnotify: credentials: WebhookRejectedError")


# -- webhook: exit codes and where the secret comes from -----------------------------------

def test_webhook_keyword_miss_is_bad_input_not_credentials(emu: Emulator) -> None:
    emu.add_webhook_robot("kw", keywords=["deploy"])
    out = run_cli(["webhook", "--url", emu.webhook_url("kw"), "--text", "hello"], cli_env(None))
    line = one_line(out, 2, "dingnotify: error: the message lacks the robot's keyword")
    assert "keywords not in content" in line and emu.webhook_messages("kw") == []
    ok = run_cli(["webhook", "--url", emu.webhook_url("kw"), "--text", "deploy done"],
                 cli_env(None))
    assert ok.returncode == 0, ok.stderr


def test_webhook_secret_from_env_stdin_or_config(emu: Emulator, tmp_path: Path) -> None:
    emu.add_webhook_robot(TOKEN, secret=SECRET)
    url = emu.webhook_url(TOKEN)
    env = run_cli(["webhook", "--url", url, "--text", "env"],
                  cli_env(None, DINGTALK_WEBHOOK_SECRET=SECRET))
    piped = run_with_stdin(["webhook", "--url", url, "--secret-file", "-", "--text", "stdin"],
                           cli_env(None), SECRET)
    config = tmp_path / "config.toml"
    config.write_text(f'[dingtalk]\nwebhook_url = "{url}"\nwebhook_secret = "{SECRET}"\n')
    config.chmod(0o600)
    from_file = run_cli(["webhook", "--text", "config"],
                        cli_env(None, DINGNOTIFY_CONFIG=str(config)))
    for out in (env, piped, from_file):
        assert (out.returncode, out.stderr) == (0, ""), out.stderr
    assert [m["text"]["content"] for m in emu.webhook_messages(TOKEN)] == [
        "env", "stdin", "config"]


# -- the config file takes every setting and names unknown keys -----------------------------

def _config(tmp_path: Path, emu: Emulator, extra: str = "") -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text(f'[dingtalk]\napp_key = "{emu.app.app_key}"\n'
                      f'app_secret = "{emu.app.app_secret}"\nagent_id = {emu.app.agent_id}\n'
                      f'base_url = "{emu.url}"\n{extra}')
    config.chmod(0o600)
    return cli_env(None, DINGNOTIFY_CONFIG=str(config))


def test_config_file_takes_edition_and_robot_settings(emu: Emulator, tmp_path: Path) -> None:
    env = _config(tmp_path, emu, f'edition = "exclusive"\nrobot_code = "{emu.robot_code}"\n'
                                 f'api_base_url = "{emu.url}"\n')
    sent = run_cli(["robot", "send", "--user", "u000031", "--text", "robot"], env)
    assert sent.returncode == 0, sent.stderr
    assert [m.msg_param for m in emu.robot_inbox("u000031")] == [{"content": "robot"}]
    bad = _config(tmp_path, emu, 'edition = "gold"\n')
    one_line(run_cli(["send", "--user", "u000032", "--text", "x"], bad), 2,
             "dingnotify: error: DINGTALK_EDITION (or edition in the config file)")


def test_config_file_names_unknown_keys(emu: Emulator, tmp_path: Path) -> None:
    env = _config(tmp_path, emu, 'agentid = 5\n[extra]\nx = 1\n')
    line = one_line(run_cli(["send", "--user", "u000033", "--text", "x"], env), 2,
                    "dingnotify: error: ")
    assert "unknown setting(s) [extra], agentid" in line and emu.count(SEND) == 0
