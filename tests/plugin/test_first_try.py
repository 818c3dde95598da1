"""The README's pytest-plugin example, copied into a new project with no pytest settings,
passes under pytest-asyncio's default strict mode; the factory fixture and fast retries."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"

SERVICE = '''
from dingnotify import Markdown


async def welcome(client, userid):
    return await client.work_notice.send(Markdown(title="Hi", text="Welcome"), userids=[userid])
'''

MORE_TESTS = '''
import pytest

from dingnotify.testing import Fault, FaultPlan, Org


@pytest.mark.asyncio
async def test_factory_profile_org_faults(dingtalk_emulator_factory):
    small = await dingtalk_emulator_factory(org=Org.synthetic(n_users=5))
    flaky = await dingtalk_emulator_factory(
        profile="realistic", faults=FaultPlan(rules=[Fault(path="/gettoken", kind="http_503")]))
    assert len(small.org.users) == 5 and small.url != flaky.url


@pytest.mark.asyncio
async def test_client_retries_fast(dingtalk_client, dingtalk_emulator):
    import time

    from dingnotify import ServerBusyError
    dingtalk_emulator.faults = FaultPlan(rules=[Fault(path="*", kind="errcode_-1")])
    started = time.monotonic()
    with pytest.raises(ServerBusyError):
        await dingtalk_client.users.get_by_mobile("13800000001")
    assert time.monotonic() - started < 1.0
'''


def readme_example() -> tuple[str, str]:
    """The conftest.py and test code of the README's plugin example."""
    text = README.read_text("utf-8")
    block = text.split("## The emulator in your own tests", 1)[1].split("```python", 1)[1]
    code = textwrap.dedent(block.split("```", 1)[0])
    conftest, _, tests = code.partition("\n\n")
    return conftest, tests


def test_readme_plugin_example_passes_in_a_new_project(tmp_path: Path) -> None:
    conftest, tests = readme_example()
    assert "pytest_plugins" in conftest and "@pytest.mark.asyncio" in tests
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "my_service.py").write_text(SERVICE)
    (tmp_path / "test_welcome.py").write_text(tests)
    (tmp_path / "test_more.py").write_text(MORE_TESTS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), str(README.parent), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         # pytest-asyncio's own nudge to configure a loop scope; a new project has none.
         "-W", "ignore::pytest.PytestDeprecationWarning",
         "-o", "asyncio_mode=strict", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"\b3 passed\b", out.stdout), out.stdout


def test_readme_names_the_testing_extra() -> None:
    assert "pip install 'dingnotify[testing]'" in README.read_text("utf-8")
