"""The package's layers, read from every module's imports (arrows only point down).

    core       _errors _constants _redact _retry _transport _http _token _quota _windows ...
    families   _api/             imports core only
    engines    broadcast/        imports core only
    channels   work_notice/ robot/ users/ media/ impaas/ webhook/ top/
               import core, families and engines; another channel only by its public name
    testing/   the emulator: an independent reading of the wire, imports nothing of the client
    cli/       public names only, through one shim (test_layering.py)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import dingnotify

ROOT = Path(dingnotify.__file__).parent
CORE = {"_errors", "_constants", "_redact", "_retry", "_transport", "_http", "_token",
        "_quota", "_windows", "_recipients", "_coordination", "_concurrency", "_options",
        "_version"}
FAMILIES = {"_api"}
ENGINES = {"broadcast"}
CHANNELS = {"work_notice", "robot", "users", "media", "impaas", "webhook", "top"}


def _module(path: Path) -> tuple[str, ...]:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports(
    path: Path, here: tuple[str, ...] | None = None
) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(line, absolute module path) of every import of a dingnotify module in ``path``
    (the module ``here``, by default the one ``path`` is)."""
    here = _module(path) if here is None else here
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = (*base, *(node.module or "").split(".")) if node.module else base
                names = [(*target, alias.name) for alias in node.names]
            else:
                target = tuple((node.module or "").split("."))
                names = [(*target, alias.name) for alias in node.names]
            if target[0] == "dingnotify":
                # ``from . import x`` names a module; ``from .x import y`` names x.
                yield from ((node.lineno, n if node.module is None else target) for n in names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "dingnotify":
                    yield node.lineno, tuple(alias.name.split("."))


def layer_of(module: tuple[str, ...]) -> str:
    top = module[1] if len(module) > 1 else ""
    if top in CORE:
        return "core"
    if top in FAMILIES:
        return "families"
    if top in ENGINES:
        return "engines"
    if top in CHANNELS:
        return "channels"
    return top or "root"


def offenders(name: str, allowed: set[str]) -> list[str]:
    """Imports of the module or package ``name`` that reach outside ``allowed`` layers."""
    package = ROOT / name
    found = []
    for path in sorted(package.rglob("*.py")) if package.is_dir() else [ROOT / f"{name}.py"]:
        own = _module(path)[:2]
        for line, target in imports(path):
            if target[:2] != own and layer_of(target) not in allowed:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {'.'.join(target)}")
    return found


@pytest.mark.parametrize("module", sorted(CORE))
def test_core_imports_only_core(module: str) -> None:
    assert offenders(module, {"core"}) == []


@pytest.mark.parametrize("layer", sorted(FAMILIES | ENGINES))
def test_families_and_engines_import_no_channel(layer: str) -> None:
    assert offenders(layer, {"core"}) == []


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_channels_use_only_public_names_of_other_channels(channel: str) -> None:
    found = []
    for path in sorted((ROOT / channel).rglob("*.py")):
        for line, target in imports(path):
            layer = layer_of(target)
            if layer not in {"core", "families", "engines", "channels"}:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {'.'.join(target)}")
            elif layer == "channels" and target[1] != channel and any(
                    part.startswith("_") for part in target[2:]):
                found.append(f"{path.relative_to(ROOT)}:{line} reaches into "
                             f"{'.'.join(target)}")
    assert found == []


def test_testing_imports_nothing_of_the_client() -> None:
    """Only the pytest plugin touches the client, by its public name, to hand tests a
    ``DingTalkClient`` bound to the emulator."""
    found = []
    for path in sorted((ROOT / "testing").rglob("*.py")):
        for line, target in imports(path):
            bridge = path.name == "plugin.py" and target == ("dingnotify",)
            if target[:2] != ("dingnotify", "testing") and not bridge:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {'.'.join(target)}")
    assert found == []


def test_a_forbidden_import_is_found(tmp_path: Path) -> None:
    """The reader resolves relative imports: a channel's private module imported by the
    family layer is caught (checked on a copy, so the package stays untouched)."""
    probe = tmp_path / "oapi.py"
    probe.write_text((ROOT / "_api" / "oapi.py").read_text("utf-8")
                     + "\nfrom ..work_notice._body import SendBody\n", "utf-8")
    found = [t for _, t in imports(probe, ("dingnotify", "_api", "oapi"))
             if layer_of(t) == "channels"]
    assert found == [("dingnotify", "work_notice", "_body")]


def test_the_cli_shim_imports_public_names_only() -> None:
    found = [f"cli/_sdk.py:{line} imports {'.'.join(target)}"
             for line, target in imports(ROOT / "cli" / "_sdk.py")
             if any(part.startswith("_") and part != "__version__" for part in target[1:])]
    assert found == []
