"""The site's build hooks: the command-line reference covers every command; the API
reference shows default values, msgspec Structs' constructors and, for the sync clients,
the async signatures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

HOOKS = Path(__file__).parents[2] / "docs" / "hooks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}", HOOKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_has_every_command_with_its_flags_and_exit_codes() -> None:
    hook = _load("cli_reference")
    from dingnotify.cli._parser import build_parser

    page = hook.on_page_markdown("# CLI\n\n<!-- cli-reference -->\n")
    for path in hook.commands(build_parser()):
        title = " ".join(("dingnotify", *path))
        assert f"### `{title}`" in page
    assert "<!-- cli-reference -->" not in page
    assert "--journal" in page and "--resend-rounds" in page
    assert "usage: dingnotify send" in page
    for code in ("0", "2", "3", "4", "5", "130", "143"):
        assert code in page.split("### `dingnotify broadcast`")[1].split("### ")[0]


def test_sync_methods_and_constructors_get_the_async_signatures() -> None:
    griffe = pytest.importorskip("griffe")  # the docs group (not in the floors' venv)
    defaults = _load("griffe_defaults")
    extensions = griffe.load_extensions(_load("griffe_sync").SyncSignatures,
                                        defaults.DefaultValues, defaults.StructConstructors)
    package = griffe.load("dingnotify", extensions=extensions, resolve_aliases=True,
                          resolve_external=False)
    send = package["sync._clients.WorkNotice.send"]
    assert isinstance(send, griffe.Function) and "async" not in send.labels
    assert [p.name for p in send.parameters][:3] == ["self", "message", "userids"]
    assert str(send.returns) == "int"
    init = package["sync._clients.DingTalkClient.__init__"]
    names = [p.name for p in init.parameters]
    assert names[:3] == ["self", "app_key", "app_secret"] and "quota" in names
    timeout = next(p for p in init.parameters if p.name == "timeout")
    assert timeout.default == "10.0"  # a value, not DEFAULT_TIMEOUT
    oa = package["work_notice._messages.OA.__init__"]  # a msgspec Struct: no source __init__
    assert [(p.name, p.default) for p in oa.parameters][1:3] == [("message_url", None),
                                                                 ("head", None)]
    assert str(next(p for p in oa.parameters if p.name == "head").annotation) == "OAHead"
