"""What a user's install gets: typed packages, one version, no test-only runtime dependencies."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PACKAGES = ("workbench", "subagents", "retrieval", "sandboxes", "exports")


def _pyproject(repo_root: Path) -> dict:  # type: ignore[type-arg]
    return tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_is_marked_typed_and_ships_the_marker(repo_root: Path, package: str) -> None:
    assert (repo_root / package / "py.typed").is_file()
    assert "py.typed" in _pyproject(repo_root)["tool"]["setuptools"]["package-data"][package]


def test_the_version_is_written_once(repo_root: Path) -> None:
    import workbench

    meta = _pyproject(repo_root)["project"]
    assert "version" not in meta and "version" in meta["dynamic"]
    assert importlib.metadata.version("research-workbench") == workbench.__version__
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.split()[-1] == workbench.__version__


_WITHOUT_AIOHTTP = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "aiohttp" or name.startswith("aiohttp."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
import workbench.cli.app, workbench.project, workbench.ask.model
from subagents.models.anthropic import AnthropicModel
from subagents.testing.models import ScriptedModel
assert "aiohttp" not in sys.modules
try:
    import subagents.testing.fake_server
except ImportError as e:
    print(e)
"""


def test_the_runtime_does_not_need_aiohttp(repo_root: Path) -> None:
    """aiohttp serves only the fake Messages-API server: a dev/testing extra."""
    meta = _pyproject(repo_root)["project"]
    assert not any(d.startswith("aiohttp") for d in meta["dependencies"])
    extras = meta["optional-dependencies"]
    assert any(d.startswith("aiohttp") for d in extras["testing"])
    assert any(d.startswith("aiohttp") for d in extras["dev"])
    out = subprocess.run(
        [sys.executable, "-c", _WITHOUT_AIOHTTP], capture_output=True, text=True, cwd=repo_root
    )
    assert out.returncode == 0, out.stderr
    assert 'pip install "research-workbench[testing]"' in out.stdout
