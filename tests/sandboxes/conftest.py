"""Fixtures for the sandboxes tests: real kernels under real bubblewrap."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandboxes import LocalSandbox, SandboxLimits

#: Small limits so the bombs hit them fast; generous enough for polars + matplotlib.
TEST_LIMITS = SandboxLimits(
    memory_mb=1536, processes=64, disk_mb=64, file_size_mb=16, output_bytes=20_000
)


@pytest.fixture(scope="session")
def limits() -> SandboxLimits:
    return TEST_LIMITS


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _needs_bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is required for the sandbox tests: apt-get install bubblewrap")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSandbox]:
    """One warm sandbox per test module (tests must not rely on each other's state)."""
    inputs = tmp_path_factory.mktemp("inputs")
    (inputs / "data.json").write_text('{"a": 1, "b": 2}')
    work = tmp_path_factory.mktemp("work")
    with LocalSandbox(
        work_dir=work, inputs={"data.json": inputs / "data.json"}, limits=TEST_LIMITS
    ) as sb:
        yield sb


@pytest.fixture()
def secret_files(repo_root: Path) -> Iterator[list[Path]]:
    """A secret in the project dir and one in the home dir, removed afterwards."""
    home = Path.home()
    paths = [repo_root / ".secret-for-sandbox-test", home / ".secret-for-sandbox-test"]
    for p in paths:
        p.write_text("TOPSECRET-42")
    yield paths
    for p in paths:
        p.unlink(missing_ok=True)
