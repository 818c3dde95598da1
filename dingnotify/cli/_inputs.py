"""Reading what the operator gives us: recipient files and message flags."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import ValidationError
from ..messages import Markdown, Message, Text, message_from_dict

MOBILE_HEADERS = ("mobile", "phone", "手机", "手机号")
USERID_HEADERS = ("userid", "user_id", "userId", "员工id")


class InputError(Exception):
    """Bad flags or files (exit code 2)."""


@dataclass
class Recipients:
    userids: list[str] = field(default_factory=list)
    mobiles: list[str] = field(default_factory=list)


def _looks_like_mobile(value: str) -> bool:
    digits = value.lstrip("+").replace("-", "").replace(" ", "")
    return digits.isdigit() and 6 <= len(digits) <= 15


def read_recipients(path: str, column: str | None = None) -> Recipients:
    """One userid per line, or a CSV with a header naming a userid or mobile column."""
    file = Path(path)
    try:
        text = file.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read recipients file {path}: {exc}") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError(f"recipients file {path} is empty")
    header = [h.strip() for h in next(csv.reader([lines[0]]))]
    known = column or next((h for h in header if h in MOBILE_HEADERS + USERID_HEADERS), None)
    if file.suffix.lower() == ".csv" or len(header) > 1 or known in header:
        if known is None or known not in header:
            raise InputError(
                f"{path}: name the column with --column (headers: {', '.join(header)})"
            )
        rows = csv.DictReader(lines)
        values = [(row.get(known) or "").strip() for row in rows]
        values = [v for v in values if v]
        if known in MOBILE_HEADERS or (column and all(_looks_like_mobile(v) for v in values)):
            return Recipients(mobiles=values)
        return Recipients(userids=values)
    return Recipients(userids=lines)


def build_message(
    *, text: str | None, markdown: str | None, title: str | None, json_file: str | None
) -> Message:
    """Exactly one of --text, --markdown FILE (with --title), --json FILE."""
    given = [x for x in (text, markdown, json_file) if x is not None]
    if len(given) != 1:
        raise InputError("give exactly one of --text, --markdown FILE, --json FILE")
    try:
        if text is not None:
            return Text(content=text)
        if markdown is not None:
            if not title:
                raise InputError("--markdown needs --title (the preview in the chat list)")
            return Markdown(title=title, text=_read(markdown))
        data = json.loads(_read(json_file or ""))
        if not isinstance(data, dict):
            raise InputError(f"{json_file}: expected a JSON object with msgtype")
        return message_from_dict(data)
    except json.JSONDecodeError as exc:
        raise InputError(f"{json_file}: not valid JSON ({exc})") from None
    except ValidationError as exc:
        raise InputError(str(exc)) from None


def _read(path: str) -> str:
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
