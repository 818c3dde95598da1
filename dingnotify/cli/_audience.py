"""Who gets a broadcast: userids, mobiles and dept ids from flags and files, mobiles resolved
(after the journal is checked, with progress, each answer kept in the journal).

Shared by ``broadcast`` and ``robot broadcast``; each passes the flags it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ._commands import Answered, resolve_mobiles, to_userids
from ._display import LookupProgress, Output
from ._inputs import InputError, read_recipients
from ._journal import Journal, digest
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


def wanted_hash(wanted: Wanted, forms: dict[str, str]) -> str:
    """What a journal is begun for, before any lookup: the recipients as given (mobiles
    as looked up)."""
    return digest(",".join(wanted.userids).encode(),
                  ",".join(forms[m] for m in wanted.mobiles).encode(),
                  ",".join(map(str, wanted.dept_ids)).encode(), b"all" if wanted.to_all else b"")


async def look_up(client: DingTalkClient, forms: list[str], journal: Journal | None,
                  message_hash: str, wanted: str, out: Output, quiet: bool,
                  ) -> tuple[dict[str, str], set[str]]:
    """Each mobile's userid, and the unknown ones: the journal is checked first (a mismatch
    costs no lookup), mobiles it resolved are not looked up again, and each new answer is
    kept in it as it arrives; progress on stderr."""
    cache = journal.begin(message_hash, wanted) if journal is not None else None
    known = {} if cache is None else cache.known()
    if known:
        out.notice(f"resuming: {len(known)} mobile(s) already resolved")
    todo = [form for form in forms if form not in known]
    with LookupProgress(len(todo), quiet=quiet) as progress:
        try:
            found, unknown = await resolve_mobiles(
                client, todo, progress if cache is None else tee(progress, cache.add))
        finally:
            if cache is not None:
                cache.flush()
    found |= {form: userid for form, userid in known.items() if userid is not None}
    return found, {*unknown, *(form for form, userid in known.items() if userid is None)}


def tee(*hooks: Answered) -> Answered:
    """One answer hook that calls each of ``hooks``."""

    def each(mobile: str, userid: str | None) -> None:
        for hook in hooks:
            hook(mobile, userid)
    return each


async def resolve(client: DingTalkClient, wanted: Wanted, out: Output,
                  journal: Journal | None = None, message_hash: str = "", *,
                  quiet: bool = False) -> Audience:
    """Resolve the mobiles (normalised, each number looked up once, a journal's answers
    reused; ``look_up``): who gets the message. Unknown mobiles are reported as written."""
    forms = normalised(wanted.mobiles)
    written = {form: mobile for mobile, form in reversed(forms.items())}  # first spelling
    unique = list(dict.fromkeys(forms.values()))
    by_form, unknown_forms = await look_up(client, unique, journal, message_hash,
                                           wanted_hash(wanted, forms), out, quiet)
    found = {mobile: by_form[form] for mobile, form in forms.items() if form in by_form}
    unknown = [written[form] for form in unique if form in unknown_forms]
    if unknown:
        out.notice(f"{len(unknown)} unknown mobile(s), e.g. {unknown[0]}")
    userids = to_userids(wanted.userids + [found[m] for m in wanted.mobiles if m in found])
    audience = Audience(userids, wanted.dept_ids, wanted.to_all,
                        {u: m for m, u in found.items()}, unknown)
    if not (audience.userids or audience.dept_ids or audience.to_all):
        raise InputError("no recipients left after resolving mobiles")
    return audience
