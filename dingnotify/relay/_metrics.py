"""Counters for ``GET /metrics`` in Prometheus' text format: numbers only, no secrets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

HELP = {
    "accepted": ("counter", "Notifications durably accepted."),
    "sent": ("counter", "Notifications DingTalk accepted."),
    "delivered": ("counter", "Work notices whose delivery result was confirmed."),
    "failed": ("counter", "Notifications that failed for good."),
    "retried": ("counter", "Delivery attempts that failed and were queued again."),
    "rejected": ("counter", "Requests answered 4xx or 503."),
    "unrouted_alerts": ("counter", "Alerts no route matched."),
    "digests": ("counter", "Group robot messages that carried more than one notification."),
    "rate_limit_waits": ("counter", "Times a group robot's 20 a minute held a digest back."),
}


class Metrics:
    """In-process counters; gauges are read when ``/metrics`` is served."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.wait_seconds: Callable[[], float] = lambda: 0.0

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def render(self, depth: int, oldest_age: float) -> str:
        lines = []
        for name, (kind, text) in HELP.items():
            lines += [f"# HELP dingnotify_relay_{name}_total {text}",
                      f"# TYPE dingnotify_relay_{name}_total {kind}",
                      f"dingnotify_relay_{name}_total {self.counts[name]}"]
        gauges = {
            "queue_depth": ("Notifications accepted and not yet sent or failed.", depth),
            "oldest_queued_age_seconds": ("Age of the oldest undelivered notification.",
                                          oldest_age),
            "rate_limit_wait_seconds": ("Seconds calls waited for the quota (this process).",
                                        self.wait_seconds()),
        }
        for name, (text, value) in gauges.items():
            lines += [f"# HELP dingnotify_relay_{name} {text}",
                      f"# TYPE dingnotify_relay_{name} gauge",
                      f"dingnotify_relay_{name} {value:g}"]
        return "\n".join(lines) + "\n"
