"""``--resend-rounds``/``--resend-delay`` reach the SDK's resend rounds, for ``broadcast``
and ``robot broadcast`` alike, with the SDK's defaults."""

from __future__ import annotations

import json
from pathlib import Path

from dingnotify import DEFAULT_RESEND_DELAY, DEFAULT_RESEND_ROUNDS
from dingnotify.cli import build_parser
from dingnotify.testing import Org, RateLimits
from tests.cli_e2e.conftest import SEND, ThreadedEmulator, cli_env, run_cli

ROBOT_SEND = "/v1.0/robot/oToMessages/batchSend"


def test_both_commands_default_to_the_sdk_constants() -> None:
    parser = build_parser()
    notice = parser.parse_args(["broadcast", "--text", "x", "--user", "u1"])
    robot = parser.parse_args(["robot", "broadcast", "--text", "x", "--user", "u1"])
    for args in (notice, robot):
        assert (args.resend_rounds, args.resend_delay) == (DEFAULT_RESEND_ROUNDS,
                                                           DEFAULT_RESEND_DELAY)


def test_broadcast_passes_resend_rounds_to_the_sdk(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(f"u{i:06d}" for i in range(1, 1501)) + "\n")
    for rounds, sends in ((2, 15 + 5 + 5), (0, 15)):
        limits = RateLimits(recipients_per_minute=1_000)  # the CLI's quota allows 5,000
        with ThreadedEmulator(org=Org.synthetic(n_users=1_500), profile=limits) as emu:
            out = run_cli(["broadcast", "--recipients", str(ids), "--text", f"r{rounds}",
                           "--wait", "--poll-interval", "0.05", "--resend-rounds",
                           str(rounds), "--resend-delay", "0", "--format", "json", "--quiet"],
                          cli_env(emu))
            assert out.returncode == 0, out.stderr
            assert emu.count(SEND) == sends  # the same minute: held back every round
        data = json.loads(out.stdout)
        assert data["result"]["throttled"] == 500 and len(data["task_ids"]) == sends
        assert [f"(round {n})" in out.stderr for n in (1, 2, 3)] == [
            n <= rounds for n in (1, 2, 3)]
        assert out.stderr.count("re-sending 500 recipient(s)") == rounds


def test_robot_broadcast_passes_resend_rounds_to_the_sdk() -> None:
    with ThreadedEmulator(org=Org.synthetic(n_users=200), robot_flow_control_ratio=1.0) as emu:
        env = cli_env(emu, DINGTALK_ROBOT_CODE=emu.robot_code, DINGTALK_API_BASE_URL=emu.url)
        out = run_cli(["robot", "broadcast", "--text", "hi", "--resend-rounds", "2",
                       "--resend-delay", "0", "--format", "json", "--quiet",
                       *[a for i in range(1, 41) for a in ("--user", f"u{i:06d}")]], env)
        assert out.returncode == 4, out.stderr  # still flow-controlled
        data = json.loads(out.stdout)
        assert data["resend_rounds"] == 2 and len(data["throttled_userids"]) == 40
        assert emu.count(ROBOT_SEND) == 2 + 2 + 2  # two batches of 20, three times
