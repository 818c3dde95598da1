"""The journal's tables (schema 5), and the statements that upgrade older journals.

Schema 3 added each robot batch's answer and the re-send rounds (``resends``); schema 4
when each batch was acknowledged (``acked_at``, wall clock) and the recipients it drew
(``recipients``); schema 5 each mobile looked up (``mobiles``: the number as looked up,
its userid, NULL when DingTalk knows no such number). A journal of an older schema is
upgraded in place when opened.
"""

from __future__ import annotations

APP, SCHEMA_VERSION = "dingnotify-journal", "5"
RESENDS = """
CREATE TABLE resends (
    idx INTEGER PRIMARY KEY,
    round INTEGER NOT NULL,
    userids TEXT NOT NULL,
    state TEXT NOT NULL,
    task_id TEXT,
    answer TEXT,
    error TEXT,
    updated_at REAL
)"""
MOBILES = "CREATE TABLE IF NOT EXISTS mobiles (mobile TEXT PRIMARY KEY, userid TEXT)"
SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE batches (
    idx INTEGER PRIMARY KEY,
    userids TEXT NOT NULL,
    dept_ids TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'planned',
    task_id INTEGER,
    error TEXT,
    updated_at REAL,
    answer TEXT,
    acked_at REAL,
    recipients INTEGER
);
{RESENDS};
{MOBILES};
"""
ACKS = ("ALTER TABLE batches ADD COLUMN acked_at REAL",
        "ALTER TABLE batches ADD COLUMN recipients INTEGER")
UPGRADES = {"2": ("ALTER TABLE batches ADD COLUMN answer TEXT", RESENDS, *ACKS, MOBILES),
            "3": (*ACKS, MOBILES), "4": (MOBILES,)}
"""Schemas upgraded in place when opened: the statements that bring each to this one."""
