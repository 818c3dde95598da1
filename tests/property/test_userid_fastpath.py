"""The chunk-level userid check must agree exactly with the one-by-one rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dingnotify._sendbody import encode_userids, valid_userid

ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.@-]{1,20}", fullmatch=True),
    st.text(max_size=70),
    st.sampled_from(["", " ", "a,b", 'q"', "back\\slash", "x" * 64, "x" * 65, "\u2028", "钉钉"]),
    st.integers(),
    st.none(),
)


@given(st.lists(ids, max_size=40))
def test_fast_path_matches_per_id_rule(chunk: list[object]) -> None:
    fast = encode_userids(chunk)
    if all(valid_userid(u) for u in chunk):
        assert fast == [u.encode() for u in chunk]  # type: ignore[union-attr]
    else:
        assert fast is None
