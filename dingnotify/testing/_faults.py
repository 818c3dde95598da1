"""Fault injection: scripted or seeded-random failures per path.

Kinds: ``http_400`` (a refused request, in the new-generation API's error form: certainly
not processed), ``http_500``/``http_502``/``http_503`` (status with an HTML/text body),
``drop`` (close the connection with no response), ``delay`` (sleep ``delay`` s first;
with ``after_accept`` process the request, then sleep, so the server accepted work the
client timed out on),
``errcode_<N>`` (HTTP 200 with ``{"errcode": N}``, e.g. ``errcode_-1``, ``errcode_90018``),
``revoke_token`` (invalidate all tokens, then process normally), ``html_error`` (HTTP 200
text/html page, like DingTalk's IP ban) and ``garbage`` (HTTP 200 truncated JSON).

One ``random.Random(seed)`` drives every draw, made only for rules whose path matches, so a
given request sequence always meets the same faults.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

KINDS = frozenset({"http_400", "http_500", "http_502", "http_503", "drop", "delay", "revoke_token",
                   "html_error", "garbage", "ok"})
_ERRCODE = re.compile(r"^errcode_(-?\d+)$")


def validate_kind(kind: str) -> str:
    if kind not in KINDS and not _ERRCODE.match(kind):
        raise ValueError(f"unknown fault kind {kind!r}")
    return kind


def errcode_of(kind: str) -> int | None:
    """The errcode an ``errcode_<N>`` fault answers with, else None."""
    match = _ERRCODE.match(kind)
    return int(match.group(1)) if match else None


@dataclass
class Fault:
    """One rule. ``path`` is exact, ``"*"`` for all, or a prefix ending in ``*``.

    ``times`` caps how often the rule fires (None = unlimited); ``fired`` counts it.
    """

    path: str
    kind: str
    probability: float = 1.0
    delay: float = 5.0
    after_accept: bool = False
    times: int | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        validate_kind(self.kind)

    def matches(self, path: str) -> bool:
        if self.path == "*" or self.path == path:
            return True
        return self.path.endswith("*") and path.startswith(self.path[:-1])

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass
class FaultPlan:
    """Rules drawn at random plus per-path scripts consumed in order before any rule.

    A script item is a kind string (``"ok"`` = no fault) or a full ``Fault``.
    """

    seed: int = 0
    rules: list[Fault] = field(default_factory=list)
    script: Mapping[str, Sequence[str | Fault]] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)
    _cursor: dict[str, int] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        for items in self.script.values():
            for item in items:
                if isinstance(item, str):
                    validate_kind(item)

    def pick(self, path: str) -> Fault | None:
        """The fault for this request, or None to serve it normally."""
        items = self.script.get(path)
        if items is not None:
            index = self._cursor.get(path, 0)
            if index < len(items):
                self._cursor[path] = index + 1
                item = items[index]
                if isinstance(item, Fault):
                    return item
                return None if item == "ok" else Fault(path=path, kind=item)
        for rule in self.rules:
            if rule.exhausted or not rule.matches(path):
                continue
            if self._rng.random() < rule.probability:
                rule.fired += 1
                return rule
        return None
