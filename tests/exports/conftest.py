"""Fixtures for the exports tests (helpers live in exports_fixtures.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .exports_fixtures import AmiRun, build_spec


@pytest.fixture(scope="session")
def ami(tmp_path_factory: pytest.TempPathFactory) -> AmiRun:
    """Shared, read-only: tests that change the spec take `spec.model_copy(deep=True)`."""
    run_dir = tmp_path_factory.mktemp("ami-run")
    spec, sources = build_spec(run_dir)
    return AmiRun(run_dir, spec, sources)


@pytest.fixture
def make_ami(tmp_path: Path) -> Callable[..., AmiRun]:
    def make(**kwargs: object) -> AmiRun:
        spec, sources = build_spec(tmp_path, **kwargs)  # type: ignore[arg-type]
        return AmiRun(tmp_path, spec, sources)

    return make
