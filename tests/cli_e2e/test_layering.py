"""The command line imports the SDK through one shim module (``dingnotify.cli._sdk``)."""

from __future__ import annotations

import ast
from pathlib import Path

import dingnotify.cli

CLI = Path(dingnotify.cli.__file__).parent


def test_cli_modules_import_the_sdk_only_through_the_shim() -> None:
    offenders = []
    for module in sorted(CLI.glob("*.py")):
        if module.name == "_sdk.py":
            continue
        for node in ast.walk(ast.parse(module.read_text("utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            name = node.module or ""
            relative_sdk = node.level >= 2 and not name.startswith("testing")  # demo's emulator
            if relative_sdk or name.startswith("dingnotify"):
                offenders.append(f"{module.name}:{node.lineno}")
    assert not offenders
