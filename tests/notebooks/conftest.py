"""Fixtures for the notebook tests: one small corpus and one project for the session.

Every notebook test points its notebook (through papermill parameters) at these, so the
index is built once and reused: the tests run the real engine, real kernels and real
notebooks, on three meetings instead of twelve.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

MEETINGS = ["ES2002a", "IS1000a", "TS3005a"]


@pytest.fixture(scope="session")
def meetings(tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path) -> Path:
    folder = tmp_path_factory.mktemp("nb-corpus") / "meetings"
    folder.mkdir()
    for m in MEETINGS:
        shutil.copy(sample_corpus / f"{m}.json", folder / f"{m}.json")
    return folder


@pytest.fixture(scope="session")
def nb_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nb-project")
