"""Who gets a broadcast: userids, mobiles and dept ids from flags and files, mobiles resolved.

Shared by ``broadcast`` and ``robot broadcast``; each passes the flags it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ._commands import resolve_mobiles, to_userids
from ._display import Output
from ._inputs import InputError, read_recipients
from ._sdk import DingTalkClient, ValidationError, check_mobile, unique_dept_ids


@dataclass
class Wanted:
    """What the flags and files name, mobiles not yet resolved."""

    userids: list[str]
    mobiles: list[str]
    dept_ids: list[int]
    to_all: bool = False


@dataclass
class Audience:
    """Who gets the message, once mobiles are resolved."""

    userids: list[str]
    dept_ids: list[int]
    to_all: bool
    mobile_of: dict[str, str] = field(default_factory=dict)
    unknown_mobiles: list[str] = field(default_factory=list)


def read_wanted(
    users: Sequence[str] | None, files: Sequence[str] | None, column: str | None, *,
    dept_ids: Sequence[int] | None = None, to_all: bool = False,
) -> Wanted:
    """Userids, mobiles and dept ids from ``--user``, ``--recipients`` files (``--column``),
    ``--dept`` and ``--to-all``."""
    userids: list[str] = list(users or [])
    mobiles: list[str] = []
    for path in files or []:
        found = read_recipients(path, column)
        userids += found.userids
        mobiles += found.mobiles
    depts = unique_dept_ids(dept_ids or [])
    if to_all and (userids or mobiles or depts):
        raise InputError("--to-all sends to everyone: drop --recipients/--user/--dept")
    if not (userids or mobiles or depts or to_all):
        raise InputError("no recipients: give --recipients FILE, --user, --dept or --to-all")
    return Wanted(userids, mobiles, depts, to_all)


def normalised(mobiles: Sequence[str]) -> dict[str, str]:
    """Each mobile as written -> as looked up (``+86 138 0000 0001`` -> ``13800000001``,
    ``138-0000-0003`` -> ``13800000003``; the SDK's ``check_mobile``)."""
    forms: dict[str, str] = {}
    for mobile in mobiles:
        try:
            forms[mobile] = check_mobile(mobile)
        except ValidationError as exc:
            raise InputError(str(exc)) from None
    return forms


async def resolve(client: DingTalkClient, wanted: Wanted, out: Output) -> Audience:
    """Resolve the mobiles (normalised, each number looked up once): who gets the message.

    Unknown mobiles are reported as written.
    """
    forms = normalised(wanted.mobiles)
    written = {form: mobile for mobile, form in reversed(forms.items())}  # first spelling
    by_form, unknown_forms = await resolve_mobiles(client, list(dict.fromkeys(forms.values())))
    found = {mobile: by_form[form] for mobile, form in forms.items() if form in by_form}
    unknown = [written[form] for form in unknown_forms]
    if unknown:
        out.notice(f"{len(unknown)} unknown mobile(s), e.g. {unknown[0]}")
    userids = to_userids(wanted.userids + [found[m] for m in wanted.mobiles if m in found])
    audience = Audience(userids, wanted.dept_ids, wanted.to_all,
                        {u: m for m, u in found.items()}, unknown)
    if not (audience.userids or audience.dept_ids or audience.to_all):
        raise InputError("no recipients left after resolving mobiles")
    return audience
