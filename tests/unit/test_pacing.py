"""The pacer: spacing between calls, and how it reacts to 90018 bursts."""

from __future__ import annotations

from dingnotify._pacing import AdaptivePacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_throttles_counts_once_per_window() -> None:
    clock = Clock()
    pacer = AdaptivePacer(40, clock=clock)
    start = pacer.rate
    assert start is not None
    for _ in range(16):  # sixteen calls in flight all answered 90018
        pacer.throttled()
    assert pacer.rate == start * 0.75
    clock.now += 1.5
    pacer.throttled()
    assert pacer.rate == start * 0.75 * 0.75


def test_recovery_is_additive_and_capped() -> None:
    clock = Clock()
    pacer = AdaptivePacer(40, clock=clock)
    ceiling = pacer.rate
    assert ceiling is not None and 39 < ceiling < 40
    pacer.throttled()
    for _ in range(25):
        pacer.succeeded()
    assert pacer.rate == ceiling


def test_unpaced_starts_pacing_after_the_first_throttle() -> None:
    pacer = AdaptivePacer(None, clock=Clock())
    assert pacer.rate is None
    pacer.throttled()
    assert pacer.rate is not None and pacer.rate < 40


async def test_calls_are_spaced_by_the_rate() -> None:
    import anyio

    pacer = AdaptivePacer(100)
    started = anyio.current_time()
    for _ in range(11):
        await pacer.acquire()
    assert anyio.current_time() - started >= 10 / 100
