"""asyncsend_v2 request bodies: recipient checks, and a template that splices recipients in.

The message is encoded once per template; each batch only adds its recipient lists, which is
what keeps a 10,000-call broadcast cheap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ._constants import MAX_DEPT_IDS_PER_CALL, MAX_USERIDS_PER_CALL
from ._errors import ValidationError
from .messages import Message, encode_msg

MAX_USERID_LENGTH = 64


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


# Ids of 1-64 characters with no control character, space, comma, quote or backslash: the
# usual shape, checked over a whole joined chunk at once.
_PLAIN_IDS = re.compile(r'[^\x00-\x20\x7f",\\]{1,64}(?:,[^\x00-\x20\x7f",\\]{1,64})*')


def encode_userids(chunk: Sequence[object]) -> list[bytes] | None:
    """Every id of ``chunk`` as UTF-8 bytes when all are valid, else None.

    The usual case is checked in C over the joined chunk, which keeps validation off the
    broadcast profile; anything unusual falls back to ``valid_userid`` per id.
    """
    if not chunk:
        return []
    try:
        joined = ",".join(chunk)  # type: ignore[arg-type]
    except TypeError:
        return None
    plain = (
        joined.count(",") == len(chunk) - 1
        and _PLAIN_IDS.fullmatch(joined) is not None
        and (joined.isascii() or joined.isprintable())
    )
    if not plain and not all(map(valid_userid, chunk)):
        return None
    return joined.encode().split(b",")


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


def check_dept_id(dept_id: object) -> int:
    """A positive department id (ints, or strings of digits)."""
    if isinstance(dept_id, str) and dept_id.strip().isdigit():
        dept_id = int(dept_id)
    if isinstance(dept_id, bool) or not isinstance(dept_id, int) or dept_id <= 0:
        raise ValidationError(f"dept ids must be positive integers, got {dept_id!r}")
    return dept_id


def check_agent_id(agent_id: object) -> int:
    if isinstance(agent_id, bool) or not isinstance(agent_id, int) or agent_id <= 0:
        raise ValidationError(
            "agent_id is required (a positive int): pass it to DingTalkClient or to the call"
        )
    return agent_id


def unique_userids(userids: Iterable[object]) -> list[str]:
    return list(dict.fromkeys(check_userid(u) for u in userids))


def unique_dept_ids(dept_ids: Iterable[object]) -> list[int]:
    return list(dict.fromkeys(check_dept_id(d) for d in dept_ids))


class SendBody:
    """The encoded ``msg`` plus fixed fields; ``render`` adds one batch's recipients."""

    __slots__ = ("_head", "to_all_user")

    def __init__(self, message: Message, agent_id: int, *, to_all_user: bool = False) -> None:
        self.to_all_user = to_all_user
        head = b'{"agent_id":%d,"msg":%s' % (check_agent_id(agent_id), encode_msg(message))
        if to_all_user:
            head += b',"to_all_user":true'
        self._head = head

    def render(self, userids: Sequence[str], dept_ids: Sequence[int]) -> bytes:
        """The body for one call; callers pass checked, de-duplicated ids within the limits."""
        if len(userids) > MAX_USERIDS_PER_CALL or len(dept_ids) > MAX_DEPT_IDS_PER_CALL:
            raise ValidationError(
                f"one call takes at most {MAX_USERIDS_PER_CALL} userids and "
                f"{MAX_DEPT_IDS_PER_CALL} dept ids (got {len(userids)} and {len(dept_ids)})"
            )
        if not (userids or dept_ids or self.to_all_user):
            raise ValidationError("no recipients: give userids, dept_ids or to_all_user=True")
        body = self._head
        if userids:
            body += b',"userid_list":"' + ",".join(userids).encode() + b'"'
        return self._finish(body, dept_ids)

    def render_raw(self, userids: Sequence[bytes], dept_ids: Sequence[int]) -> bytes:
        """``render`` for ids already checked and encoded (the broadcast hot path)."""
        if not (userids or dept_ids or self.to_all_user):
            raise ValidationError("no recipients: give userids, dept_ids or to_all_user=True")
        body = self._head
        if userids:
            body += b',"userid_list":"' + b",".join(userids) + b'"'
        return self._finish(body, dept_ids)

    def _finish(self, body: bytes, dept_ids: Sequence[int]) -> bytes:
        if dept_ids:
            body += b',"dept_id_list":"' + ",".join(map(str, dept_ids)).encode() + b'"'
        return body + b"}"
