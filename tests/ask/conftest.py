"""Fixtures for the ask/evaluation tests: two real AMI meetings, indexed once per session."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workbench.project import Project
from workbench.runs.corpus import Corpus

MEETINGS = ("ES2002a", "IS1000a")
HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden" / "offline_golden.json"
BASELINE = HERE / "golden" / "baseline.json"


@dataclass
class Indexed:
    project: Project
    corpus: Corpus
    index: Any


@pytest.fixture(scope="session")
def two_meetings(tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path) -> Path:
    folder = tmp_path_factory.mktemp("ami2")
    for m in MEETINGS:
        shutil.copy(sample_corpus / f"{m}.json", folder / f"{m}.json")
    return folder


@pytest.fixture(scope="session")
def indexed(tmp_path_factory: pytest.TempPathFactory, two_meetings: Path) -> Indexed:
    project = Project(tmp_path_factory.mktemp("ask-project"))
    corpus = Corpus.load(two_meetings)
    index = project.index_for(corpus)
    index.update(corpus.documents)
    return Indexed(project, corpus, index)
