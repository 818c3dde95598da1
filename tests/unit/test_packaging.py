"""Packaging metadata: every third-party module the package imports is declared, the floors
file pins exactly the declared floors, and development tools are not published as extras."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import dingnotify

ROOT = Path(dingnotify.__file__).parent.parent
PACKAGE = ROOT / "dingnotify"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
PROJECT = PYPROJECT["project"]
# Imported only by optional parts, each behind its extra (or a dependency group for tools).
OPTIONAL = {"rich": "cli", "redis": "redis", "pytest": "testing", "pytest_asyncio": "testing"}


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("-", "_")


def _third_party_imports() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found
            if name not in sys.stdlib_module_names and name != "dingnotify"}


def test_every_imported_distribution_is_declared() -> None:
    declared = {_requirement_name(r) for r in PROJECT["dependencies"]}
    extras = PROJECT["optional-dependencies"]
    for module in sorted(_third_party_imports()):
        if module in OPTIONAL:
            names = {_requirement_name(r) for r in extras[OPTIONAL[module]]}
            assert module in names, (module, OPTIONAL[module])
        else:
            assert module in declared, module
    assert {"yarl", "multidict"} <= declared


def test_the_floors_file_pins_every_declared_floor() -> None:
    floors = {}
    for line in (ROOT / "constraints-floors.txt").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            floors[_requirement_name(name)] = version.strip()
    for requirement in PROJECT["dependencies"]:
        found = re.search(r">=\s*([\w.]+)", requirement)
        assert found, requirement
        floor = found.group(1)
        pinned = floors[_requirement_name(requirement)]
        assert pinned.startswith(floor) and pinned.count(".") >= floor.count("."), (
            requirement, pinned)


def test_tools_are_groups_not_published_extras() -> None:
    assert set(PROJECT["optional-dependencies"]) == {"cli", "redis", "relay", "testing"}
    groups = PYPROJECT["dependency-groups"]
    dev = {item["include-group"] for item in groups["dev"] if isinstance(item, dict)}
    assert "bench" not in dev and {"test", "lint", "docs", "build"} <= dev
    assert {"dingtalk_sdk", "matplotlib"} <= {_requirement_name(r) for r in groups["bench"]}
    test = {_requirement_name(r) for r in groups["test"]}
    assert {"pytest", "pytest_asyncio", "hypothesis", "rich", "redis"} <= test


def test_project_urls_keywords_and_classifiers() -> None:
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(
        PROJECT["urls"])
    assert "dingtalk" in PROJECT["keywords"]
    assert "Operating System :: OS Independent" in PROJECT["classifiers"]
