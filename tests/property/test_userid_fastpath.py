"""The chunk-level userid check must agree exactly with the one-by-one rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dingnotify import ValidationError
from dingnotify._recipients import check_userid, unique_userids, valid_joined, valid_userid

ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.@-]{1,20}", fullmatch=True),
    st.text(max_size=70),
    st.sampled_from(["", " ", "a,b", 'q"', "back\\slash", "x" * 64, "x" * 65, "\u2028", "钉钉",
                     "\t", "a b", "\x7f", "\u3000", "é" * 64, "é" * 65]),
    st.integers(),
    st.none(),
    st.binary(max_size=5),
)


@given(st.lists(ids, max_size=40))
def test_fast_path_matches_per_id_rule(chunk: list[object]) -> None:
    assert (valid_joined(chunk) is not None) == all(valid_userid(u) for u in chunk)


@given(st.lists(ids, max_size=40))
def test_unique_userids_keeps_first_occurrences_or_rejects(chunk: list[object]) -> None:
    if all(valid_userid(u) for u in chunk):
        assert unique_userids(chunk) == list(dict.fromkeys(chunk))
        assert unique_userids(tuple(chunk)) == unique_userids(iter(chunk))
        return
    with pytest.raises(ValidationError):
        unique_userids(chunk)
    with pytest.raises(ValidationError):
        check_userid(next(u for u in chunk if not valid_userid(u)))
