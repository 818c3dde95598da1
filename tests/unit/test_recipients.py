"""Recipients in one module: validation, de-duplication and the batch plan."""

from __future__ import annotations

import pytest

from dingnotify import PlannedBatch, ValidationError, batch_count, plan_batches
from dingnotify._recipients import (
    BatchPlanner,
    Deduper,
    SequenceNotStr,
    check_userid,
    checked_userids,
    unique_dept_ids,
    unique_userids,
    valid_joined,
    valid_userid,
)


@pytest.mark.parametrize("userid", ["u1", "manager4585", "钉钉用户", "a@b.c", "x" * 64, "a-b_c.d"])
def test_valid_userids(userid: str) -> None:
    assert valid_userid(userid) and valid_joined([userid]) is not None
    assert check_userid(userid) == userid


@pytest.mark.parametrize("userid", ["", " ", "a,b", 'q"', "back\\slash", "x" * 65, "\n",
                                    "a\tb", "\u2028", 7, None, b"u1"])
def test_invalid_userids(userid: object) -> None:
    assert not valid_userid(userid) and valid_joined(["ok", userid]) is None
    with pytest.raises(ValidationError):
        check_userid(userid)


def test_unique_userids_keeps_first_occurrences_in_order() -> None:
    assert unique_userids(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    assert unique_userids(("b", "a", "b")) == ["b", "a"]
    assert unique_userids(iter(["z", "z", "y"])) == ["z", "y"]
    assert unique_userids({"only"}) == ["only"]
    assert unique_userids([f"u{i}" for i in range(2500)] * 2) == [f"u{i}" for i in range(2500)]


@pytest.mark.parametrize("bad", ["u000001", b"u1", bytearray(b"u1"), ["ok", ""], ["a,b"],
                                 [f"u{i}" for i in range(1500)] + [""]])
def test_unique_userids_refuses_bad_input(bad: object) -> None:
    with pytest.raises(ValidationError):
        unique_userids(bad)  # type: ignore[arg-type]


def test_unique_dept_ids() -> None:
    assert unique_dept_ids([3, 1, 3, "2", " 4 "]) == [3, 1, 2, 4]
    for bad in ([0], [-1], [True], ["x"], [1.5], "12"):
        with pytest.raises(ValidationError):
            unique_dept_ids(bad)


def test_deduper_streams_new_ids_in_order() -> None:
    dedup = Deduper()
    assert dedup.fresh(["a", "b"]) == ["a", "b"]
    assert dedup.fresh(["b", "c", "c", "a", "d"]) == ["c", "d"]
    assert dedup.fresh(["a"]) == []


def test_plan_batches_slices_userids_and_depts_together() -> None:
    users = [f"u{i}" for i in range(250)]
    plan = list(plan_batches(users, list(range(1, 46))))
    assert [b.index for b in plan] == [0, 1, 2]
    assert [len(b.userids) for b in plan] == [100, 100, 50]
    assert [b.dept_ids for b in plan] == [tuple(range(1, 21)), tuple(range(21, 41)),
                                          tuple(range(41, 46))]
    assert all(isinstance(b, PlannedBatch) for b in plan)
    depts_only = list(plan_batches([], list(range(1, 46)), dept_ids_per_call=10))
    assert [len(b.dept_ids) for b in depts_only] == [10, 10, 10, 10, 5]
    assert all(b.userids == () for b in depts_only)
    everyone = list(plan_batches([]))  # to_all_user: one batch without recipients
    assert everyone == [PlannedBatch(0, (), ())]


@pytest.mark.parametrize(("users", "depts", "per_call", "per_dept_call"), [
    (0, 0, 100, 20), (1, 0, 100, 20), (100, 0, 100, 20), (101, 0, 100, 20),
    (12_345, 45, 100, 20), (150, 100, 100, 20), (7, 3, 2, 1), (5000, 500, 5000, 500),
])
def test_batch_count_agrees_with_the_plan(users: int, depts: int, per_call: int,
                                          per_dept_call: int) -> None:
    plan = list(plan_batches([f"u{i}" for i in range(users)], list(range(1, depts + 1)),
                             userids_per_call=per_call, dept_ids_per_call=per_dept_call))
    assert batch_count(users, depts, userids_per_call=per_call,
                       dept_ids_per_call=per_dept_call) == len(plan)
    assert [u for b in plan for u in b.userids] == [f"u{i}" for i in range(users)]
    assert [d for b in plan for d in b.dept_ids] == list(range(1, depts + 1))


def test_planner_refuses_bad_sizes_and_oversized_batches() -> None:
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValidationError):
            BatchPlanner(userids_per_call=bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            batch_count(1, 1, dept_ids_per_call=bad)  # type: ignore[arg-type]
    planner = BatchPlanner(userids_per_call=2)
    with pytest.raises(ValidationError):
        planner.next(["a", "b", "c"])
    assert planner.next(["a", "b"]) == PlannedBatch(0, ("a", "b"), ())
    assert planner.planned == 1 and not planner.more_needed()


def test_sequence_not_str_accepts_collections() -> None:
    def takes(userids: SequenceNotStr[str]) -> int:
        return len(userids)

    assert takes(["a", "b"]) == 2 and takes(("a",)) == 1


def test_deduper_hands_back_its_input_when_all_ids_are_new() -> None:
    dedup = Deduper()
    first = ("a", "b", "c")
    assert dedup.fresh(first) is first
    assert dedup.fresh(("c", "d", "d", "e")) == ("d", "e")
    assert dedup.fresh(("f", "f")) == ("f",)  # repeats within one chunk, none seen before
    assert dedup.fresh(["g", "a"]) == ["g"]


def test_checked_userids_copies_only_to_drop_duplicates() -> None:
    users = [f"u{i}" for i in range(2500)]
    assert checked_userids(users) is users
    as_tuple = tuple(users)
    assert checked_userids(as_tuple) is as_tuple
    assert checked_userids(users + users[:10]) == as_tuple
    assert checked_userids({"only"}) == ("only",)
    assert checked_userids(iter(["z", "z", "y"])) == ("z", "y")
    with pytest.raises(ValidationError, match="invalid userid ''"):
        checked_userids([*users, "", 7])


@pytest.mark.parametrize("chunk", [["u1", "u2"], ["钉钉", "a b"], [], ["x" * 64]])
def test_valid_joined_is_the_comma_join(chunk: list[str]) -> None:
    assert valid_joined(chunk) == ",".join(chunk)


@pytest.mark.parametrize("chunk", [["u1", ""], ["a,b"], ["u1", 7], ["x" * 65], ['q"']])
def test_valid_joined_refuses_any_bad_id(chunk: list[object]) -> None:
    assert valid_joined(chunk) is None
