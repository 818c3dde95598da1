"""The organisation the emulator serves: apps, a department tree and users.

``Org.synthetic`` builds a deterministic organisation of any size, so tests and benchmarks
can address ``u000001`` / ``13800000001`` without fixtures on disk.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

ROOT_DEPT_ID = 1
DEFAULT_APP = ("dingemuappkey", "emu-secret-do-not-log", 1000)
DEFAULT_TOP_APP = ("12345678", "helloworld-emu", 0)


@dataclass(frozen=True, slots=True)
class App:
    """An app's credentials. ``agent_id`` is 0 for TOP apps, which have none."""

    app_key: str
    app_secret: str
    agent_id: int


@dataclass(frozen=True, slots=True)
class User:
    userid: str
    mobile: str
    dept_ids: tuple[int, ...] = (ROOT_DEPT_ID,)
    name: str = ""


@dataclass(frozen=True, slots=True)
class Dept:
    dept_id: int
    parent_id: int | None
    name: str


def _default_apps() -> list[App]:
    return [App(*DEFAULT_APP)]


def _default_top_apps() -> list[App]:
    return [App(*DEFAULT_TOP_APP)]


def _default_depts() -> dict[int, Dept]:
    return {ROOT_DEPT_ID: Dept(ROOT_DEPT_ID, None, "Emulated Corp")}


@dataclass
class Org:
    """Apps, departments and users. Mutate through ``add_user``/``add_dept`` so caches reset."""

    apps: list[App] = field(default_factory=_default_apps)
    users: dict[str, User] = field(default_factory=dict)
    depts: dict[int, Dept] = field(default_factory=_default_depts)
    top_apps: list[App] = field(default_factory=_default_top_apps)
    _by_mobile: dict[str, str] | None = field(default=None, init=False, repr=False)
    _subtree: dict[int, frozenset[str]] = field(default_factory=dict, init=False, repr=False)
    _all: frozenset[str] | None = field(default=None, init=False, repr=False)
    _children: dict[int, list[int]] | None = field(default=None, init=False, repr=False)
    _members: dict[int, list[str]] | None = field(default=None, init=False, repr=False)

    @classmethod
    def synthetic(cls, n_users: int = 200, depts: int | None = None, seed: int = 0) -> Org:
        """``n_users`` users ``u000001``.. (mobile ``138`` + 8-digit index) in a random tree.

        ``depts`` is the number of departments including the root (default ~1 per 50 users);
        ``seed`` only shapes the tree and the placement of users, never ids or mobiles.
        """
        rng = random.Random(seed)
        n_depts = max(1, depts if depts is not None else min(2000, 1 + n_users // 50))
        tree = _default_depts()
        for dept_id in range(2, n_depts + 1):
            parent = rng.randint(1, dept_id - 1)
            tree[dept_id] = Dept(dept_id, parent, f"Dept {dept_id}")
        users: dict[str, User] = {}
        for i in range(1, n_users + 1):
            userid = f"u{i:06d}"
            dept_id = rng.randint(1, n_depts)
            users[userid] = User(userid, f"138{i:08d}", (dept_id,), f"User {i}")
        return cls(users=users, depts=tree)

    @property
    def app(self) -> App:
        return self.apps[0]

    def add_user(self, user: User) -> None:
        self.users[user.userid] = user
        self._invalidate()

    def add_dept(self, dept: Dept) -> None:
        self.depts[dept.dept_id] = dept
        self._invalidate()

    def userid_by_mobile(self, mobile: str) -> str | None:
        if self._by_mobile is None:
            self._by_mobile = {u.mobile: u.userid for u in self.users.values()}
        return self._by_mobile.get(mobile)

    def all_userids(self) -> frozenset[str]:
        if self._all is None:
            self._all = frozenset(self.users)
        return self._all

    def expand_dept(self, dept_id: int) -> set[str]:
        """Userids of ``dept_id`` and every department below it (empty if unknown)."""
        return set(self.subtree(dept_id))

    def subtree(self, dept_id: int) -> frozenset[str]:
        """Cached, immutable form of ``expand_dept`` for the hot path."""
        cached = self._subtree.get(dept_id)
        if cached is None:
            cached = self._subtree[dept_id] = self._walk(dept_id)
        return cached

    def _walk(self, dept_id: int) -> frozenset[str]:
        if dept_id not in self.depts:
            return frozenset()
        if self._children is None or self._members is None:
            self._children, self._members = {}, {}
            for dept in self.depts.values():
                if dept.parent_id is not None and dept.parent_id != dept.dept_id:
                    self._children.setdefault(dept.parent_id, []).append(dept.dept_id)
            for user in self.users.values():
                for member_of in user.dept_ids:
                    self._members.setdefault(member_of, []).append(user.userid)
        found: set[str] = set()
        stack, seen = [dept_id], set()
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                found.update(self._members.get(current, ()))
                stack.extend(self._children.get(current, ()))
        return frozenset(found)

    def _invalidate(self) -> None:
        self._by_mobile = None
        self._subtree = {}
        self._all = None
        self._children = self._members = None
