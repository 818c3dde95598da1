"""Recipients: validation, de-duplication and the batch plan, in one place.

The broadcast and the CLI's journal both slice recipients with ``plan_batches``, so a
resumed run can never disagree with the run that wrote the journal. Ids stay ``str`` from
the caller's input to the request body.
"""

from __future__ import annotations

import re
from collections.abc import (
    AsyncIterable,
    Iterable,
    Iterator,
    Sequence,
    Set,
)
from dataclasses import dataclass
from typing import Any, Protocol, SupportsIndex, TypeVar, overload

from ._constants import MAX_DEPT_IDS_PER_CALL, MAX_USERIDS_PER_CALL
from ._errors import ValidationError

MAX_USERID_LENGTH = 64
_T_co = TypeVar("_T_co", covariant=True)


class SequenceNotStr(Protocol[_T_co]):
    """A ``Sequence`` that a bare ``str`` does not match (its ``__contains__`` is narrower).

    ``userids="u1"`` would otherwise type-check and send ``"u,1"``: type checkers reject it
    here, and ``check_userids_container`` rejects it at run time.
    """

    @overload
    def __getitem__(self, index: SupportsIndex, /) -> _T_co: ...
    @overload
    def __getitem__(self, index: slice, /) -> Sequence[_T_co]: ...
    def __contains__(self, value: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[_T_co]: ...
    def index(self, value: Any, start: int = 0, stop: int = ..., /) -> int: ...
    def count(self, value: Any, /) -> int: ...
    def __reversed__(self) -> Iterator[_T_co]: ...


UserIds = SequenceNotStr[str] | Set[str]
"""Userids for one call: a list, tuple or set of strings, never one string."""

UserIdStream = SequenceNotStr[str] | Set[str] | Iterator[str] | AsyncIterable[str]
"""Userids for a broadcast: a collection, a generator/iterator or an async iterator."""


def valid_userid(u: object) -> bool:
    """Fits DingTalk's comma-separated ``userid_list`` and needs no JSON escaping."""
    return (
        type(u) is str
        and 0 < len(u) <= MAX_USERID_LENGTH
        and u.isprintable()
        and not u.isspace()
        and "," not in u
        and '"' not in u
        and "\\" not in u
    )


# 1-64 characters with no control character, space, comma, quote or backslash: the usual
# shape, checked over a whole joined chunk at once in C.
_PLAIN_IDS = re.compile(r'[^\x00-\x20\x7f",\\]{1,64}(?:,[^\x00-\x20\x7f",\\]{1,64})*')


def all_valid(chunk: Sequence[object]) -> bool:
    """True when every id of ``chunk`` is valid; the common case costs one regex match."""
    if not chunk:
        return True
    try:
        joined = ",".join(chunk)  # type: ignore[arg-type]
    except TypeError:
        return False
    plain = (
        joined.count(",") == len(chunk) - 1
        and _PLAIN_IDS.fullmatch(joined) is not None
        and (joined.isascii() or joined.isprintable())
    )
    return plain or all(map(valid_userid, chunk))


def check_userid(userid: object) -> str:
    """``userid`` itself, or a ``ValidationError`` saying what is wrong with it."""
    if not isinstance(userid, str):
        raise ValidationError(f"userids must be strings, got {type(userid).__name__}")
    if not valid_userid(userid):
        raise ValidationError(
            f"invalid userid {userid[:80]!r}: 1-{MAX_USERID_LENGTH} printable characters, "
            "no comma, quote or backslash"
        )
    return userid


def check_userids_container(userids: object) -> None:
    """Refuse one string (or bytes) where a collection of userids is expected."""
    if isinstance(userids, str | bytes | bytearray):
        raise ValidationError(
            "userids must be a collection of userids, not one string: use [\"...\"]"
        )


def check_dept_id(dept_id: object) -> int:
    """A positive department id (ints, or strings of digits)."""
    if isinstance(dept_id, str) and dept_id.strip().isdigit():
        dept_id = int(dept_id)
    if isinstance(dept_id, bool) or not isinstance(dept_id, int) or dept_id <= 0:
        raise ValidationError(f"dept ids must be positive integers, got {dept_id!r}")
    return dept_id


def unique_userids(userids: Iterable[object]) -> list[str]:
    """Checked userids, first occurrence kept, in order (raises on the first bad one)."""
    check_userids_container(userids)
    if isinstance(userids, list | tuple):
        for start in range(0, len(userids), 1000):
            chunk = userids[start : start + 1000]
            if not all_valid(chunk):
                for u in chunk:
                    check_userid(u)
        return list(dict.fromkeys(userids))
    return list(dict.fromkeys(check_userid(u) for u in userids))


def unique_dept_ids(dept_ids: Iterable[object]) -> list[int]:
    """Checked department ids, first occurrence kept, in order."""
    check_userids_container(dept_ids)
    return list(dict.fromkeys(check_dept_id(d) for d in dept_ids))


class Deduper:
    """Streaming de-duplication: remembers every id seen, hands back the new ones in order."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def fresh(self, ids: list[str]) -> list[str]:
        """The ids of ``ids`` not seen before (``ids`` must already be valid)."""
        seen = self._seen
        chunk = set(ids)
        if len(chunk) == len(ids) and seen.isdisjoint(chunk):
            seen |= chunk  # the common case, all in C
            return ids
        out: list[str] = []
        for u in ids:
            if u not in seen:
                seen.add(u)
                out.append(u)
        return out


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """One ``asyncsend_v2`` call of a plan: its index and its slice of the recipients."""

    index: int
    userids: tuple[str, ...]
    dept_ids: tuple[int, ...]


def _check_sizes(userids_per_call: int, dept_ids_per_call: int) -> None:
    for name, value in (("userids_per_call", userids_per_call),
                        ("dept_ids_per_call", dept_ids_per_call)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(f"{name} must be a positive int, got {value!r}")


def batch_count(
    userids: int,
    dept_ids: int,
    *,
    userids_per_call: int = MAX_USERIDS_PER_CALL,
    dept_ids_per_call: int = MAX_DEPT_IDS_PER_CALL,
) -> int:
    """Calls a broadcast of this many unique userids and dept ids makes (at least one)."""
    _check_sizes(userids_per_call, dept_ids_per_call)
    return max(-(-userids // userids_per_call), -(-dept_ids // dept_ids_per_call), 1)


class BatchPlanner:
    """The batching rule: batch ``i`` takes the next ``userids_per_call`` unique userids and
    the ``i``-th slice of ``dept_ids_per_call`` dept ids. The only place that slices."""

    def __init__(
        self,
        dept_ids: Sequence[int] = (),
        *,
        userids_per_call: int = MAX_USERIDS_PER_CALL,
        dept_ids_per_call: int = MAX_DEPT_IDS_PER_CALL,
    ) -> None:
        _check_sizes(userids_per_call, dept_ids_per_call)
        self.userids_per_call = userids_per_call
        self.dept_ids_per_call = dept_ids_per_call
        self._dept_ids = dept_ids
        self.planned = 0

    def next(self, userids: Sequence[str]) -> PlannedBatch:
        """The next batch, holding ``userids`` (at most ``userids_per_call`` of them)."""
        if len(userids) > self.userids_per_call:
            raise ValidationError(f"a batch holds at most {self.userids_per_call} userids")
        start = self.planned * self.dept_ids_per_call
        batch = PlannedBatch(self.planned, tuple(userids),
                             tuple(self._dept_ids[start : start + self.dept_ids_per_call]))
        self.planned += 1
        return batch

    def more_needed(self) -> bool:
        """Dept ids remain that no batch took yet."""
        return self.planned * self.dept_ids_per_call < len(self._dept_ids)


def plan_batches(
    userids: Sequence[str],
    dept_ids: Sequence[int] = (),
    *,
    userids_per_call: int = MAX_USERIDS_PER_CALL,
    dept_ids_per_call: int = MAX_DEPT_IDS_PER_CALL,
) -> Iterator[PlannedBatch]:
    """Every batch for checked, unique recipients, in order (at least one: a
    ``to_all_user`` send has no recipients of its own)."""
    planner = BatchPlanner(dept_ids, userids_per_call=userids_per_call,
                           dept_ids_per_call=dept_ids_per_call)
    size = userids_per_call
    for start in range(0, len(userids), size):
        yield planner.next(userids[start : start + size])
    while planner.more_needed() or planner.planned == 0:
        yield planner.next(())
