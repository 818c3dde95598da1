"""Work-notification tasks: recipient resolution, DingTalk's flow-control rules, inboxes.

Rules are applied once, when the task is created, in this order per recipient:

* unknown userid -> ``invalid_user_id_list``; unknown dept id -> ``invalid_dept_id_list``;
* dept ids expand to the whole sub-tree; everything is de-duplicated with ``userid_list``;
* ``to_all_user`` more than 3 times a day per app -> the whole task is forbidden
  (``forbidden_list`` code ``143107``, count 3); the API call itself still succeeds;
* same content (key-sorted JSON of ``msg``) to the same user on the same GMT+8 day from the
  same app -> forbidden, code ``143105``, count 1 (``duplicates_dropped`` += 1);
* more than 500 delivered messages per user per day from one app -> forbidden, code
  ``143106``, count 500;
* more recipients than ``RateLimits.recipients_per_minute`` delivered by one app in any
  sliding 60 s -> the excess is forbidden, code ``41047``, count = the per-minute budget.
  Only recipients that pass every other rule draw from that budget, and a flow-controlled
  recipient is not marked as sent, so re-sending it later delivers.

Forbidden codes are this emulator's choice: DingTalk does not publish the per-rule codes.
41047 is the "messages per minute" code of DingTalk's error table, the nearest published
name for per-minute flow control. Every forbidden recipient is counted in ``undelivered``
(by code): the send answered success, yet nobody got the message. Lean mode keeps every rule
except same-content de-duplication (its memory grows with every distinct message) and the
daily per-user cap, and skips inboxes. Read state is a pure function of (seed, task, user)
so it costs no memory.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._clock import Clock, day_key
from ._org import App, Org
from ._quota import RecipientWindow
from ._validate import SendRequest

FORBID_DUPLICATE = ("143105", 1)
FORBID_DAILY_CAP = ("143106", 500)
FORBID_TO_ALL = ("143107", 3)
FORBID_FLOW_CONTROL = "41047"
"""Code of recipients dropped by the recipients-per-minute budget (count = the budget)."""
DAILY_CAP = 500
TO_ALL_PER_DAY = 3


class Packed(Collection[str]):
    """Ids joined into one string: lean mode's memory-cheap stand-in for a list or set.

    A million ids held as separate ``str`` objects cost ~60 MB; packed, about a sixth.
    """

    __slots__ = ("_n", "_text")
    _SEP = "\x00"

    def __init__(self, items: Iterable[str] = ()) -> None:
        seq = list(items)
        self._text = self._SEP.join(seq)
        self._n = len(seq)

    def __iter__(self) -> Iterator[str]:
        return iter(self._text.split(self._SEP) if self._n else ())

    def __len__(self) -> int:
        return self._n

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and item in set(self)

    def __repr__(self) -> str:
        return f"Packed({list(self)!r})"


@dataclass(frozen=True, slots=True)
class ForbiddenRecord:
    code: str
    count: int
    userid: str

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "count": self.count, "userid": self.userid}


@dataclass(slots=True)
class InboxMessage:
    task_id: int
    agent_id: int
    msg: dict[str, Any]
    msgtype: str
    received_at: float
    read: bool = False


@dataclass
class Task:
    """One accepted ``asyncsend_v2`` call and what became of each recipient."""

    task_id: int
    app_key: str
    agent_id: int
    userids: Collection[str]
    dept_ids: list[int]
    to_all_user: bool
    msg: dict[str, Any]
    msgtype: str
    created_at: float
    delivered: Collection[str] = ()
    invalid: Collection[str] = field(default_factory=set)
    invalid_dept_ids: list[int] = field(default_factory=list)
    forbidden: set[str] = field(default_factory=set)
    forbidden_list: list[ForbiddenRecord] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    recalled: bool = False
    status_value: str | None = None
    status_bg: str | None = None


class Delivery:
    """Creates tasks, applies the rules and answers progress/result/recall."""

    def __init__(self, org: Org, clock: Clock, *, seed: int, read_ratio: float,
                 progress_seconds: float, lean: bool) -> None:
        self.org = org
        self.clock = clock
        self.seed = seed
        self.read_ratio = read_ratio
        self.progress_seconds = progress_seconds
        self.lean = lean
        self.tasks: dict[int, Task] = {}
        self.inboxes: dict[str, list[InboxMessage]] = {}
        self.duplicates_dropped = 0
        self.flow = RecipientWindow(None)
        self.undelivered: Counter[str] = Counter()
        self._rng = random.Random(f"task:{seed}")
        self._next_id = self._rng.randint(9_000_000_000, 9_900_000_000)
        self._seen: dict[tuple[str, int, bytes], set[str]] = {}
        self._daily: dict[tuple[str, int], dict[str, int]] = {}
        self._to_all: dict[tuple[str, int], int] = {}

    def create(self, app: App, req: SendRequest) -> Task:
        now = self.clock()
        self._next_id += self._rng.randint(1, 97)
        task = Task(self._next_id, app.app_key, req.agent_id, req.userids, req.dept_ids,
                    req.to_all_user, req.msg, req.msgtype, now)
        recipients = self._resolve(task, req)
        day = day_key(now)
        if req.to_all_user:
            key = (app.app_key, day)
            self._to_all[key] = self._to_all.get(key, 0) + 1
            if self._to_all[key] > TO_ALL_PER_DAY:
                self._forbid(task, recipients, FORBID_TO_ALL)
                recipients = []
        delivered = self._apply_limits(task, recipients, app.app_key, day, req.content_key,
                                       self.flow.available(app.app_key))
        self.flow.add(app.app_key, len(delivered))
        if self.lean:
            task.userids, task.invalid = Packed(req.userids), Packed(task.invalid)
            task.delivered = Packed(delivered)
        else:
            task.delivered = set(delivered)
        if not self.lean:
            self._fill_inboxes(task, delivered, now)
        self.tasks[task.task_id] = task
        return task

    def _resolve(self, task: Task, req: SendRequest) -> list[str]:
        users = self.org.users
        unique = list(dict.fromkeys(req.userids))
        out = [uid for uid in unique if uid in users]
        task.invalid = {uid for uid in unique if uid not in users} if len(out) < len(unique) \
            else set()
        groups: list[Iterable[str]] = []
        for dept_id in dict.fromkeys(req.dept_ids):
            if dept_id in self.org.depts:
                groups.append(self.org.subtree(dept_id))
            else:
                task.invalid_dept_ids.append(dept_id)
        if req.to_all_user:
            groups.append(users)
        if groups:
            seen = set(unique)
            for group in groups:
                fresh = [uid for uid in group if uid not in seen]
                seen.update(fresh)
                out.extend(fresh)
        return out

    def _apply_limits(self, task: Task, recipients: list[str], app_key: str, day: int,
                      content: bytes, budget: int | None) -> list[str]:
        if self.lean:
            # Benchmark mode keeps no per-user counters: that bookkeeping, not the wire
            # format, would make the server the bottleneck of a client benchmark.
            if budget is not None and len(recipients) > budget:
                self._forbid(task, recipients[budget:], self._flow_reason())
                return recipients[:budget]
            return recipients
        daily = self._daily.get((app_key, day))
        if daily is None:
            daily = self._daily[(app_key, day)] = {}
        seen = self._seen.setdefault((app_key, day, content), set())
        delivered: list[str] = []
        for uid in recipients:
            if uid in seen:
                self.duplicates_dropped += 1
                self._forbid(task, (uid,), FORBID_DUPLICATE)
                continue
            sent = daily.get(uid, 0)
            if sent >= DAILY_CAP:
                self._forbid(task, (uid,), FORBID_DAILY_CAP)
                continue
            if budget is not None and len(delivered) >= budget:
                self._forbid(task, (uid,), self._flow_reason())
                continue
            daily[uid] = sent + 1
            delivered.append(uid)
        seen.update(delivered)
        return delivered

    def _flow_reason(self) -> tuple[str, int]:
        return FORBID_FLOW_CONTROL, self.flow.limit or 0

    def _forbid(self, task: Task, userids: Iterable[str], reason: tuple[str, int]) -> None:
        code, count = reason
        records = [ForbiddenRecord(code, count, uid) for uid in userids]
        task.forbidden.update(r.userid for r in records)
        task.forbidden_list.extend(records)
        self.undelivered[code] += len(records)

    def _fill_inboxes(self, task: Task, delivered: list[str], now: float) -> None:
        inboxes = self.inboxes
        for uid in delivered:
            message = InboxMessage(task.task_id, task.agent_id, task.msg, task.msgtype, now,
                                   self.is_read(task.task_id, uid))
            box = inboxes.get(uid)
            if box is None:
                inboxes[uid] = [message]
            else:
                box.append(message)

    def is_read(self, task_id: int, userid: str) -> bool:
        """Deterministic from (seed, task, user): about ``read_ratio`` of recipients."""
        if self.read_ratio <= 0:
            return False
        if self.read_ratio >= 1:
            return True
        digest = zlib.crc32(f"{self.seed}:{task_id}:{userid}".encode())
        return digest / 4_294_967_296 < self.read_ratio

    def progress(self, task: Task) -> tuple[int, int]:
        """(percent, status) where status 0 = not started, 1 = processing, 2 = done."""
        if self.progress_seconds <= 0:
            return 100, 2
        fraction = (self.clock() - task.created_at) / self.progress_seconds
        if fraction <= 0:
            return 0, 0
        if fraction >= 1:
            return 100, 2
        return max(1, min(99, int(fraction * 100))), 1

    def send_result(self, task: Task, *, as_strings: bool = False) -> dict[str, Any]:
        """The ``send_result`` object; read/unread split only once the task is done."""
        delivered = sorted(task.delivered)
        done = self.progress(task)[1] == 2
        read = [u for u in delivered if self.is_read(task.task_id, u)] if done else []
        read_set = set(read)
        result: dict[str, Any] = {
            "invalid_user_id_list": sorted(task.invalid),
            "forbidden_user_id_list": sorted(task.forbidden),
            "failed_user_id_list": sorted(task.failed),
            "read_user_id_list": read,
            "unread_user_id_list": [u for u in delivered if u not in read_set],
            "invalid_dept_id_list": list(task.invalid_dept_ids),
            "forbidden_list": [r.to_wire() for r in
                               sorted(task.forbidden_list, key=lambda r: (r.userid, r.code))],
        }
        if as_strings:
            for key, value in result.items():
                if key != "forbidden_list":
                    result[key] = ",".join(str(v) for v in value)
        return result

    def recall(self, task: Task) -> None:
        task.recalled = True
        for uid in task.delivered:
            box = self.inboxes.get(uid)
            if box:
                self.inboxes[uid] = [m for m in box if m.task_id != task.task_id]
