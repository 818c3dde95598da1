"""A broadcast over a generator of 1,000,000 userids peaks at what it must keep, measured on
the SDK alone (a transport that answers at once and keeps only counts; the emulator's own
state would otherwise be half the figure).

What it must keep: the caller's ``str`` objects (the report's batches hold them: 53 MiB for
"u000001".."u1000000" on CPython 3.11), one tuple of them per batch (8 bytes a userid), the
batch records, and, until the stream ends, the exact de-duplication set, which shares those
``str`` objects and adds only its table (32 MiB at 10**6 entries). Before the recipients walk
was shortened a batch's ids were copied about five times and joined twice on the way to the
body; none of that ever showed in the peak, which was and is that data plus well under a MiB
of batches in flight. These tests pin exactly that: nothing retained per batch beyond the
report's tuple, no transient that grows with the input.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
from collections.abc import Iterator

import pytest
from yarl import URL

from dingnotify import DingTalkClient, Text
from dingnotify.broadcast import BroadcastReport
from dingnotify.robot import SampleText
from dingnotify.testing import MockResponse

N = 1_000_000
MiB = 2**20
IN_FLIGHT = 3 * MiB  # 32 batches in flight, their bodies, answers and tasks
TOKEN = MockResponse(json={"errcode": 0, "access_token": "t", "expires_in": 7200})
ROBOT_TOKEN = MockResponse(json={"accessToken": "t", "expireIn": 7200})
SENT = MockResponse(json={"errcode": 0, "task_id": 1})
ROBOT_SENT = MockResponse(json={"processQueryKey": "k"})


def userids() -> Iterator[str]:
    return (f"u{i:06d}" for i in range(1, N + 1))


class Answering:
    """A transport that answers every call at once and keeps nothing but counts."""

    def __init__(self) -> None:
        self.sent = 0
        self.ids = 0

    async def handle(self, request: object) -> MockResponse:
        await asyncio.sleep(0)
        url: URL = request.url  # type: ignore[attr-defined]
        if url.path == "/gettoken":
            return TOKEN
        if url.path == "/v1.0/oauth2/accessToken":
            return ROBOT_TOKEN
        body: bytes = request.content  # type: ignore[attr-defined]
        self.sent += 1
        if url.path == "/v1.0/robot/oToMessages/batchSend":
            ids = body.partition(b'"userIds":[')[2].partition(b"]")[0]
            self.ids += ids.count(b'","') + 1
            return ROBOT_SENT
        ids = body.partition(b'"userid_list":"')[2].partition(b'"')[0]
        self.ids += ids.count(b",") + 1
        return SENT

    async def aclose(self) -> None:
        pass


async def measure(robot: bool) -> tuple[BroadcastReport, Answering, int, int]:
    """(report, transport, peak, kept): tracemalloc's peak during the broadcast and what
    is still traced once it returned (the report, with the de-dup set gone)."""
    transport = Answering()
    async with DingTalkClient("k", "s", agent_id=1, base_url="https://oapi.test",
                              api_base_url="https://api.test", robot_code="dingrobot",
                              quota=None, transport=transport) as client:
        gc.collect()
        tracemalloc.start()
        try:
            report: BroadcastReport
            if robot:
                report = await client.robot.broadcast(SampleText(content="m"),
                                                      userids=userids(), concurrency=32)
            else:
                report = await client.work_notice.broadcast(Text(content="m"),
                                                            userids=userids(), concurrency=32)
            gc.collect()
            kept, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return report, transport, peak, kept


def dedup_table(report: BroadcastReport) -> int:
    """The de-dup set's size at the end of the stream, grown the way the source grows it."""
    seen: set[str] = set()
    for batch in report.batches:
        seen.update(batch.userids)
    return sys.getsizeof(seen)


def check(report: BroadcastReport, transport: Answering, per_call: int) -> tuple[int, int]:
    """Every userid sent once, in order; returns (the strings' size, the tuples' size)."""
    assert report.complete and not report.failed and report.recipients == N
    assert len(report.batches) == transport.sent == N // per_call and transport.ids == N
    assert all(len(b.userids) == per_call and b.userid_list is None for b in report.batches)
    assert report.batches[0].userids[0] == "u000001"
    assert report.batches[-1].userids[-1] == f"u{N:06d}"
    strings = sum(sys.getsizeof(u) for b in report.batches for u in b.userids)
    tuples = sum(sys.getsizeof(b.userids) for b in report.batches)
    return strings, tuples


@pytest.mark.slow
async def test_work_notice_broadcast_of_a_million_userid_generator_peaks_under_100_mib(
) -> None:
    report, transport, peak, kept = await measure(robot=False)
    strings, tuples = check(report, transport, 100)
    table = dedup_table(report)
    print(f"\nwork notice, 10**6 userids: peak {peak / MiB:.1f} MiB = kept {kept / MiB:.1f} "
          f"(strings {strings / MiB:.1f}, tuples {tuples / MiB:.1f}) + de-dup table "
          f"{table / MiB:.1f} + {(peak - kept - table) / MiB:.1f} in flight")
    assert peak <= 100 * MiB, f"peak {peak / MiB:.1f} MiB"
    # The report keeps the strings, a tuple and a record of ~150 bytes per batch ...
    assert kept - strings - tuples <= 200 * len(report.batches) + MiB, kept / MiB
    # ... and the run adds only the de-dup set and the batches in flight.
    assert peak - kept <= table + IN_FLIGHT, f"{(peak - kept) / MiB:.1f} MiB over the report"


@pytest.mark.slow
async def test_robot_broadcast_of_a_million_userid_generator_peaks_at_its_data() -> None:
    """50,000 calls of 20: the report also keeps each call's answer (``robot_results``),
    ~350 bytes a batch, so this peak is ~120 MiB, all of it the report and the set."""
    report, transport, peak, kept = await measure(robot=True)
    strings, tuples = check(report, transport, 20)
    table = dedup_table(report)
    print(f"\nrobot, 10**6 userids: peak {peak / MiB:.1f} MiB = kept {kept / MiB:.1f} "
          f"(strings {strings / MiB:.1f}, tuples {tuples / MiB:.1f}) + de-dup table "
          f"{table / MiB:.1f} + {(peak - kept - table) / MiB:.1f} in flight")
    assert kept - strings - tuples <= 600 * len(report.batches) + MiB, kept / MiB
    assert peak - kept <= table + IN_FLIGHT, f"{(peak - kept) / MiB:.1f} MiB over the report"
