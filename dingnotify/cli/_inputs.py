"""Reading what the operator gives us: recipient files and message flags."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ._sdk import Markdown, Message, Text, ValidationError, encode_msg, message_from_dict

MOBILE_HEADERS = ("mobile", "phone", "手机", "手机号")
USERID_HEADERS = ("userid", "user_id", "userId", "员工id")
STDIN = "-"  # a file argument that means standard input


class InputError(Exception):
    """Bad flags or files (exit code 2)."""


@dataclass
class Recipients:
    """Userids and mobiles read from recipient files."""

    userids: list[str] = field(default_factory=list)
    mobiles: list[str] = field(default_factory=list)


def _looks_like_mobile(value: str) -> bool:
    digits = value.lstrip("+").replace("-", "").replace(" ", "")
    return digits.isdigit() and 6 <= len(digits) <= 15


def read_recipients(path: str, column: str | None = None) -> Recipients:
    """One userid per line, or a CSV with a header naming a userid or mobile column."""
    try:
        text = read_text(path, "utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read recipients file {path}: {exc}") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError(f"recipients file {path} is empty")
    try:
        return _parse(path, lines, column)
    except csv.Error as exc:
        raise InputError(f"{path}: not valid CSV ({exc})") from None


def _parse(path: str, lines: list[str], column: str | None) -> Recipients:
    header = [h.strip() for h in next(csv.reader([lines[0]]))]
    known = column or next((h for h in header if h in MOBILE_HEADERS + USERID_HEADERS), None)
    if not (Path(path).suffix.lower() == ".csv" or len(header) > 1 or known in header):
        return Recipients(userids=lines)
    if known is None or known not in header:
        raise InputError(f"{path}: name the column with --column (headers: {', '.join(header)})")
    if header.count(known) > 1:
        raise InputError(f"{path}: the header names column {known!r} more than once")
    at = header.index(known)
    values = [row[at].strip() for row in csv.reader(lines[1:]) if len(row) > at]
    values = [v for v in values if v]
    if known in MOBILE_HEADERS or (column and all(_looks_like_mobile(v) for v in values)):
        return Recipients(mobiles=values)
    return Recipients(userids=values)


def build_message(
    *, text: str | None, markdown: str | None, title: str | None, json_file: str | None
) -> Message:
    """Exactly one of --text, --markdown FILE (with --title), --json FILE."""
    message = _build(text=text, markdown=markdown, title=title, json_file=json_file)
    try:
        encode_msg(message)
    except (UnicodeError, ValidationError, ValueError) as exc:
        raise InputError(f"the message cannot be sent as UTF-8 JSON ({exc})") from None
    return message


def _build(
    *, text: str | None, markdown: str | None, title: str | None, json_file: str | None
) -> Message:
    for flag, value in (("--text", text), ("--title", title)):
        if value is not None and not _is_utf8(value):
            raise InputError(f"{flag} is not valid UTF-8 text")
    given = [x for x in (text, markdown, json_file) if x is not None]
    if len(given) != 1:
        raise InputError("give exactly one of --text, --markdown FILE, --json FILE")
    try:
        if text is not None:
            return Text(content=text)
        if markdown is not None:
            if not title:
                raise InputError("--markdown needs --title (the preview in the chat list)")
            return Markdown(title=title, text=read_file(markdown))
        data = json.loads(read_file(json_file or ""))
        if not isinstance(data, dict):
            raise InputError(f"{json_file}: expected a JSON object with msgtype")
        return message_from_dict(data)
    except json.JSONDecodeError as exc:
        raise InputError(f"{json_file}: not valid JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{json_file}: JSON nested too deeply") from None
    except ValidationError as exc:
        raise InputError(str(exc)) from None


def _is_utf8(value: str) -> bool:
    """False for undecodable argv bytes (surrogate escapes) and lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_file(path: str) -> str:
    """A UTF-8 text file (``-``: standard input); unreadable is bad input (exit 2)."""
    try:
        return read_text(path, "utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


class _Stdin:
    """Standard input can be read once: a second ``-`` would silently read nothing."""

    taken = False

    @classmethod
    def read(cls, encoding: str) -> str:
        if cls.taken:
            raise InputError("standard input (-) can be given to one flag only")
        cls.taken = True
        if sys.stdin is None:
            raise OSError("no standard input")
        return sys.stdin.buffer.read().decode(encoding)


def read_text(path: str, encoding: str) -> str:
    """The text of ``path``, or of standard input for ``-``."""
    return _Stdin.read(encoding) if path == STDIN else Path(path).read_text(encoding)
