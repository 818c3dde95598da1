"""Cut long text or markdown at line boundaries into pieces that each fit a byte budget.

The budget counts bytes as they appear inside the JSON body (``"\\n"`` is two bytes,
``"é"`` two), so a piece that fits here fits on the wire. A markdown piece that ends
inside a code fence gets a closing fence and the next piece reopens it, so every
message renders on its own. A single line longer than the budget is cut hard, and that
cut always ends a piece, so joining the pieces of a line gives the line back.
"""

from __future__ import annotations

import msgspec

_encode = msgspec.json.encode
NEWLINE_COST = 2
FENCE_MARKS = ("```", "~~~")


def json_cost(text: str) -> int:
    """Bytes ``text`` takes inside a JSON string."""
    return len(_encode(text)) - 2


def _fence_mark(line: str) -> str | None:
    stripped = line.lstrip()
    if not stripped.startswith(FENCE_MARKS):
        return None
    char = stripped[0]
    return char * (len(stripped) - len(stripped.lstrip(char)))


def _hard_split(line: str, budget: int) -> list[str]:
    pieces: list[str] = []
    start, used = 0, 0
    for index, char in enumerate(line):
        cost = json_cost(char)
        if used + cost > budget and index > start:
            pieces.append(line[start:index])
            start, used = index, 0
        used += cost
    pieces.append(line[start:])
    return pieces


class _Splitter:
    """Greedy packing of lines into pieces, tracking the open code fence."""

    def __init__(self, budget: int, markdown: bool) -> None:
        self.budget = budget
        self.markdown = markdown
        self.pieces: list[str] = []
        self.lines: list[str] = []
        self.used = 0
        self.fence: str | None = None  # the line that opened the current fence

    def _close_cost(self, fence: str | None) -> int:
        mark = _fence_mark(fence) if fence is not None else None
        return 0 if mark is None else NEWLINE_COST + json_cost(mark)

    def _fence_after(self, line: str) -> str | None:
        if not self.markdown:
            return None
        mark = _fence_mark(line)
        if mark is None:
            return self.fence
        if self.fence is None:
            return line
        opened = _fence_mark(self.fence) or ""
        closes = mark.startswith(opened) and line.strip() == mark
        return None if closes else self.fence

    def flush(self) -> None:
        if not self.lines:
            return
        if self.fence is not None:
            self.lines.append(_fence_mark(self.fence) or "```")
        self.pieces.append("\n".join(self.lines))
        self.lines, self.used = [], 0
        if self.fence is not None:
            self._append(self.fence)

    def _append(self, line: str) -> None:
        self.used += json_cost(line) + (NEWLINE_COST if self.lines else 0)
        self.lines.append(line)

    def add(self, line: str, hard_break: bool = False) -> None:
        after = self._fence_after(line)
        need = self.used + json_cost(line) + NEWLINE_COST + self._close_cost(after)
        if need > self.budget and self._has_content():
            self.flush()
        self._append(line)
        self.fence = after
        if hard_break:
            self.flush()

    def _has_content(self) -> bool:
        return len(self.lines) > (1 if self.fence is not None else 0)


def split_text(text: str, budget: int, *, markdown: bool = False) -> list[str]:
    """Pieces of ``text``, each at most ``budget`` JSON bytes, cut at line boundaries."""
    if budget < 64:
        raise ValueError("budget too small to split into")
    if json_cost(text) <= budget:
        return [text]
    splitter = _Splitter(budget, markdown)
    line_budget = budget // 2 if markdown else budget
    for line in text.split("\n"):
        pieces = _hard_split(line, line_budget) if json_cost(line) > line_budget else [line]
        for index, piece in enumerate(pieces):
            splitter.add(piece, hard_break=index < len(pieces) - 1)
    splitter.flush()
    return splitter.pieces
