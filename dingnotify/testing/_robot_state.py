"""Robot server state: robot codes, new-generation tokens, sends, inboxes, read status, recall.

Read status evolves on the emulator's clock with its ``progress_seconds`` (P) and
``read_ratio``: a send is ``PROCESSING`` for P seconds and ``SUCCESS`` after; over the next P
seconds the readers (a seeded, deterministic ``read_ratio`` share of recipients) read it in
turn; with P = 0 everything is final at once. Sends are queryable for 24 hours.
"""

from __future__ import annotations

import base64
import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ._core import Core
from ._org import App
from ._state import TokenStore

QUERY_WINDOW = 24 * 3600
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


class RobotTokens(TokenStore):
    """Tokens of ``/v1.0/oauth2/accessToken``: same lifetime rules, a separate namespace."""

    def __init__(self, core: Core, seed: int) -> None:
        super().__init__(core.clock, seed, ttl=core.tokens.ttl)
        self._rng = random.Random(f"robot-token:{seed}")


@dataclass(slots=True)
class RobotInboxMessage:
    """One robot message as a user (or a group) received it; recall flags it."""

    process_query_key: str
    robot_code: str
    msg_key: str
    msg_param: dict[str, Any]
    received_at: float
    recalled: bool = False


@dataclass
class RobotSend:
    """One accepted call: who got it (``delivered``), who did not and why."""

    process_query_key: str
    app_key: str
    robot_code: str
    msg_key: str
    msg_param: dict[str, Any]
    created_at: float
    delivered: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    throttled: list[str] = field(default_factory=list)
    filtered: list[str] = field(default_factory=list)
    open_conversation_id: str | None = None
    recalled: bool = False


class RobotState:
    """Everything the robot handlers read or change; the emulator exposes it as ``emu.robot``.

    ``flow_control_ratio`` (0..1) of each call's valid recipients come back flow-controlled
    and are not delivered; userids in ``filtered_userids`` come back filtered.
    """

    def __init__(self, core: Core, *, seed: int, flow_control_ratio: float = 0.0) -> None:
        if not 0.0 <= flow_control_ratio <= 1.0:
            raise ValueError("robot_flow_control_ratio must be within 0..1")
        self.core = core
        self.seed = seed
        self.flow_control_ratio = flow_control_ratio
        self.filtered_userids: set[str] = set()
        self.tokens = RobotTokens(core, seed)
        self.robots: dict[str, str] = {}
        """robot code -> app key of the app that owns it."""
        self.sends: dict[str, RobotSend] = {}
        self.inboxes: dict[str, list[RobotInboxMessage]] = {}
        self.groups: dict[str, list[RobotInboxMessage]] = {}
        self.throttled: Counter[str] = Counter()
        self._rng = random.Random(f"robot:{seed}")
        self._flow_rng = random.Random(f"robot-flow:{seed}")
        self.default_code = self.add_robot(core.org.app.app_key)

    def add_robot(self, app_key: str, robot_code: str | None = None) -> str:
        """Register a robot of ``app_key``; a code is minted from the seed if not given."""
        code = robot_code or "ding" + "".join(self._rng.choices(_ALNUM, k=16))
        self.robots[code] = app_key
        return code

    def _key(self) -> str:
        return base64.b64encode(self._rng.getrandbits(256).to_bytes(32, "big")).decode()

    def send(self, app: App, robot_code: str, userids: list[str], msg_key: str,
             msg_param: dict[str, Any]) -> RobotSend:
        now = self.core.clock()
        record = RobotSend(self._key(), app.app_key, robot_code, msg_key, msg_param, now)
        users = self.core.org.users
        for uid in dict.fromkeys(userids):
            if uid not in users:
                record.invalid.append(uid)
            elif uid in self.filtered_userids:
                record.filtered.append(uid)
            elif self.flow_control_ratio and self._flow_rng.random() < self.flow_control_ratio:
                record.throttled.append(uid)
            else:
                record.delivered.append(uid)
        self.sends[record.process_query_key] = record
        for uid in record.delivered:
            self._deliver(self.inboxes, uid, record)
        return record

    def send_to_group(self, app: App, robot_code: str, open_conversation_id: str,
                      msg_key: str, msg_param: dict[str, Any]) -> RobotSend:
        record = RobotSend(self._key(), app.app_key, robot_code, msg_key, msg_param,
                           self.core.clock(), open_conversation_id=open_conversation_id)
        self.sends[record.process_query_key] = record
        self._deliver(self.groups, open_conversation_id, record)
        return record

    def _deliver(self, boxes: dict[str, list[RobotInboxMessage]], owner: str,
                 record: RobotSend) -> None:
        if self.core.lean:
            return
        boxes.setdefault(owner, []).append(RobotInboxMessage(
            record.process_query_key, record.robot_code, record.msg_key, record.msg_param,
            record.created_at))

    def find(self, robot_code: str, key: str) -> RobotSend | None:
        """A one-to-one send of this robot still inside the 24-hour query window."""
        record = self.sends.get(key)
        if record is None or record.robot_code != robot_code or \
                record.open_conversation_id is not None:
            return None
        if self.core.clock() - record.created_at > QUERY_WINDOW:
            return None
        return record

    def recall(self, robot_code: str, keys: list[str]) -> tuple[list[str], dict[str, str]]:
        """``(recalled, {key: reason})``; a key already recalled goes to the failures."""
        done: list[str] = []
        failed: dict[str, str] = {}
        for key in dict.fromkeys(keys):
            record = self.find(robot_code, key)
            if record is None:
                failed[key] = "processQueryKey not found"
            elif record.recalled:
                failed[key] = "message already recalled"
            else:
                record.recalled = True
                for uid in record.delivered:
                    for message in self.inboxes.get(uid, ()):
                        if message.process_query_key == key:
                            message.recalled = True
                done.append(key)
        return done, failed

    def status(self, record: RobotSend) -> str:
        if record.recalled:
            return "RECALLED"
        elapsed = self.core.clock() - record.created_at
        return "PROCESSING" if elapsed < self.core.delivery.progress_seconds else "SUCCESS"

    def _share(self, record: RobotSend, userid: str) -> float:
        draw = zlib.crc32(f"{self.seed}:{record.process_query_key}:{userid}".encode())
        return draw / 4_294_967_296

    def is_read(self, record: RobotSend, userid: str) -> bool:
        """Readers are a seeded ``read_ratio`` share; each reads at its own moment."""
        ratio = self.core.delivery.read_ratio
        if ratio <= 0:
            return False
        share = self._share(record, userid)
        period = self.core.delivery.progress_seconds
        if period <= 0:
            return share < ratio
        progress = (self.core.clock() - record.created_at - period) / period
        return share < ratio * max(0.0, min(1.0, progress))

    def read_at(self, record: RobotSend, userid: str) -> float | None:
        """When ``userid`` read the message (emulator clock, epoch seconds), None if unread.

        The moment ``is_read`` turned true: P seconds after the send plus the reader's share
        of the next P (the send's own moment when P = 0), never later than now.
        """
        if not self.is_read(record, userid):
            return None
        period = self.core.delivery.progress_seconds
        if period <= 0:
            return record.created_at
        share = self._share(record, userid)
        moment = record.created_at + period + period * share / self.core.delivery.read_ratio
        return min(moment, self.core.clock())
