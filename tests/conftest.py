"""Fixtures shared by every test folder.

The suite never reaches a model API (ALLOW_MODEL_REQUESTS=0) nor a model hub
(HF_HUB_OFFLINE=1). The real corpora live in `../shared` beside the repository; tests
that need them fail with a clear message when it is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["ALLOW_MODEL_REQUESTS"] = "0"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("ANTHROPIC_API_KEY", None)
os.environ.pop("E2B_API_KEY", None)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = Path(os.environ.get("WORKBENCH_SHARED", REPO.parent / "shared"))
    if not (path / "corpora").is_dir():
        pytest.fail(
            f"the shared corpora are missing: expected {path}/corpora (set WORKBENCH_SHARED)"
        )
    return path


@pytest.fixture(scope="session")
def sample_corpus() -> Path:
    return REPO / "samples" / "ami-meetings"
