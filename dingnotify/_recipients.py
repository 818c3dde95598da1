"""Recipients: validation, de-duplication and the batch plan, in one place.

The broadcast and the CLI's journal both slice recipients with ``plan_batches``, so a
resumed run can never disagree with the run that wrote the journal. Ids stay ``str`` from
the caller's input to the request body: each is checked once (``valid_joined`` checks a
whole chunk by joining it, and that join is the body's ``userid_list``), de-duplicated once,
and batches are tuples of the caller's own ``str`` objects, never copies of them.
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
from typing import Any, Protocol, SupportsIndex, TypeVar, cast, overload

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


def valid_joined(chunk: Sequence[object]) -> str | None:
    """``chunk`` comma-joined when every id of it is valid, else None: one check and, for
    a batch, DingTalk's ``userid_list`` at once. The common case costs one regex match."""
    try:
        joined = ",".join(chunk)  # type: ignore[arg-type]
    except TypeError:
        return None
    plain = (
        joined.count(",") == len(chunk) - 1
        and _PLAIN_IDS.fullmatch(joined) is not None
        and (joined.isascii() or joined.isprintable())
    )
    return joined if plain or all(map(valid_userid, chunk)) else None


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


_CHECK_CHUNK = 1000


def checked_userids(userids: Iterable[object]) -> Sequence[str]:
    """Every userid of a collection checked, in order (``ValidationError`` on the first bad
    one), duplicates dropped keeping first occurrences: ``userids`` itself when it is a
    list or tuple with nothing to drop, else a tuple. No container check."""
    ids = userids if isinstance(userids, list | tuple) else tuple(userids)
    size = len(ids)
    for start in range(0, size, _CHECK_CHUNK):
        chunk = ids if size <= _CHECK_CHUNK else ids[start : start + _CHECK_CHUNK]
        if valid_joined(chunk) is None:
            for u in chunk:
                check_userid(u)
    if len(set(ids)) == size:  # the set is half a dict's size, and faster
        return cast("Sequence[str]", ids)
    return tuple(dict.fromkeys(ids))


def unique_userids(userids: Iterable[object]) -> list[str]:
    """Checked userids, first occurrence kept, in order (raises on the first bad one)."""
    check_userids_container(userids)
    return list(checked_userids(userids))


def unique_dept_ids(dept_ids: Iterable[object]) -> list[int]:
    """Checked department ids, first occurrence kept, in order."""
    check_userids_container(dept_ids)
    return list(dict.fromkeys(check_dept_id(d) for d in dept_ids))


_Ids = TypeVar("_Ids", list[str], tuple[str, ...])


class Deduper:
    """Streaming de-duplication: remembers every id seen, hands back the new ones in order."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def fresh(self, ids: _Ids) -> _Ids:
        """The ids of ``ids`` not seen before, as a list or tuple like ``ids`` (``ids``
        itself when all are new; ``ids`` must already be valid). The set shares the
        caller's ``str`` objects: it adds a table entry per id, no string."""
        seen = self._seen
        if seen.isdisjoint(ids):  # the common case, all in C
            before = len(seen)
            seen.update(ids)
            if len(seen) - before == len(ids):
                return ids
            kept: Iterable[str] = dict.fromkeys(ids)  # repeats within ``ids`` only
        else:
            add = seen.add
            kept = (u for u in ids if not (u in seen or add(u)))
        return tuple(kept) if isinstance(ids, tuple) else list(kept)


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
