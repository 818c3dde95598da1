"""``python -m benchmarks._serve USERS LIMITS``: the lean emulator for one benchmark scenario.

``LIMITS`` is a profile name (``unlimited``, ``standard``, ``professional``, ``exclusive``) or a
JSON object of ``RateLimits`` fields, so a scenario can pair a custom emulator budget with the
same client ``Quota``. Prints one JSON line (URL, robot code) when it listens on 127.0.0.1,
then serves until SIGTERM.
"""

from __future__ import annotations

import json
import sys

from dingnotify.testing import Emulator, Org, RateLimits


def limits_from(text: str) -> RateLimits | str:
    """A profile name, or ``RateLimits(**json)``."""
    if text.startswith("{"):
        return RateLimits(**json.loads(text))
    return text


def main() -> None:
    users, limits = int(sys.argv[1]), limits_from(sys.argv[2])
    emu = Emulator(Org.synthetic(n_users=users), profile=limits, lean=True, port=0)
    emu.run_forever(on_ready=lambda e: print(json.dumps(
        {"url": e.url, "robot_code": e.robot_code, "limits": repr(e.limits)}), flush=True))


if __name__ == "__main__":
    main()
