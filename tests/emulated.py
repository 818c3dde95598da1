"""A client for the emulator's default app: the one helper the integration tests share."""

from __future__ import annotations

from dingnotify import DingTalkClient, RetryPolicy
from dingnotify.testing import Emulator, ManualClock

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)


def client_for(emu: Emulator, clock: ManualClock | None = None, *, secret: str | None = None,
               **kw: object) -> DingTalkClient:
    """Bound to ``emu``; retries fast and sets no client-side quota unless ``retry=`` /
    ``quota=`` say otherwise; ``clock`` shared with
    the emulator's when token expiry is under test; ``secret`` to present a wrong one."""
    options: dict[str, object] = {"retry": FAST, "quota": None, **kw}
    if clock is not None:
        options["clock"] = clock
    app = emu.app
    return DingTalkClient(app.app_key, secret or app.app_secret, agent_id=app.agent_id,
                          base_url=emu.url, **options)  # type: ignore[arg-type]
