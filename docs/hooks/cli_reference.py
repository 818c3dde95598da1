"""An MkDocs hook: the command-line reference, rendered from the parser at build time.

``<!-- cli-reference -->`` in a page becomes one section per command with exactly what
``dingnotify COMMAND --help`` prints (flags, environment, exit codes), so the page cannot
fall behind the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Iterator
from typing import Any

PLACEHOLDER = "<!-- cli-reference -->"
WIDTH = "100"


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
             ) -> Iterator[tuple[str, ...]]:
    """Every command path of ``parser``, depth first, its own first."""
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def help_of(path: tuple[str, ...]) -> str:
    """What ``dingnotify PATH --help`` prints."""
    from dingnotify.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*path, "--help"])
    return out.getvalue().rstrip()


def render() -> str:
    from dingnotify.cli._parser import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH  # argparse wraps to the terminal: make it stable
    try:
        sections = []
        for path in commands(build_parser()):
            title = " ".join(("dingnotify", *path))
            sections.append(f"### `{title}`\n\n```text\n{help_of(path)}\n```\n")
        return "\n".join(sections)
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if PLACEHOLDER not in markdown:
        return markdown
    return markdown.replace(PLACEHOLDER, render())
