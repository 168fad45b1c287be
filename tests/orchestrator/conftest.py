"""A small corpus (3 meetings) and one project whose offline index is built once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

QUESTION = "What do the teams want from the new remote control, and what worries them?"
MEETINGS = ["ES2002a", "IS1000a", "TS3005a"]


@pytest.fixture(scope="session")
def corpus3(tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path) -> Path:
    folder = tmp_path_factory.mktemp("orch-corpus") / "meetings"
    folder.mkdir()
    for m in MEETINGS:
        shutil.copy(sample_corpus / f"{m}.json", folder / f"{m}.json")
    return folder


@pytest.fixture(scope="session")
def indexed_project(tmp_path_factory: pytest.TempPathFactory, corpus3: Path) -> Path:
    """A project directory whose offline index of `corpus3` exists (built once)."""
    import workbench as wb

    project = wb.Project(tmp_path_factory.mktemp("orch-project"))
    corpus = wb.Corpus.load(corpus3)
    project.index_for(corpus).update(corpus.documents)
    return project.dir


@pytest.fixture
def project_dir(indexed_project: Path, tmp_path: Path) -> Path:
    """A fresh project (no runs) that starts from the shared index (copied, not rebuilt)."""
    target = tmp_path / "project"
    shutil.copytree(indexed_project / ".workbench" / "index", target / ".workbench" / "index")
    return target
