"""asyncsend_v2 request bodies: a template that splices each batch's recipients in.

The message is encoded once per template; each batch only adds its recipient lists, which
is what keeps a 10,000-call broadcast cheap. Recipients arrive checked (``_recipients``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence, Sized

from .._constants import PATH_ASYNCSEND
from .._errors import ValidationError
from ._messages import Message, encode_msg

SEND_API = PATH_ASYNCSEND
"""The quota governor's name for ``asyncsend_v2`` calls (their ``Call.api``, the path):
what ``client.governor.record(SEND_API, recipients, age=...)`` counts a send of an earlier
process against, e.g. a resumed journal's."""


def check_agent_id(agent_id: object) -> int:
    """A positive agent id, or a ``ValidationError`` saying where to give it."""
    if isinstance(agent_id, bool) or not isinstance(agent_id, int) or agent_id <= 0:
        raise ValidationError(
            "agent_id is required (a positive int): pass it to DingTalkClient or to the call"
        )
    return agent_id


def check_to_all(to_all_user: bool, userids: object, dept_ids: Sized) -> None:
    """``to_all_user`` sends to everyone: refuse any userids or dept ids with it. Userids
    count unless they are an empty collection: a generator cannot be seen to be empty
    without reading it, and a broadcast would make one to-everyone call per batch of it."""
    if not to_all_user:
        return
    none = userids is None or (isinstance(userids, Collection) and not userids)
    if len(dept_ids) or not none:
        raise ValidationError("to_all_user sends to everyone: give no userids/dept_ids")


class SendBody:
    """The encoded ``msg`` plus fixed fields; ``render`` adds one batch's recipients."""

    __slots__ = ("_head", "to_all_user")

    def __init__(self, message: Message, agent_id: int, *, to_all_user: bool = False) -> None:
        self.to_all_user = to_all_user
        head = b'{"agent_id":%d,"msg":%s' % (check_agent_id(agent_id), encode_msg(message))
        if to_all_user:
            head += b',"to_all_user":true'
        self._head = head

    def render(self, userids: Sequence[str], dept_ids: Sequence[int],
               userid_list: str | None = None) -> bytes:
        """The body for one call of checked, de-duplicated recipients (``userid_list``:
        ``userids`` already comma-joined, if the caller has that join)."""
        if not (userids or dept_ids or self.to_all_user):
            raise ValidationError("no recipients: give userids, dept_ids or to_all_user=True")
        parts = [self._head]
        if userids:
            users = ",".join(userids) if userid_list is None else userid_list
            parts += (b',"userid_list":"', users.encode(), b'"')
        if dept_ids:
            parts += (b',"dept_id_list":"', ",".join(map(str, dept_ids)).encode(), b'"')
        parts.append(b"}")
        return b"".join(parts)  # one copy of the ids into the body
