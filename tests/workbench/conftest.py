"""One real analysis shared by the end-to-end tests: 6 sample meetings, real index,
real sandbox, real exports. Built once per session; other tests reuse its index."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

QUESTION = "What do the teams want from the new remote control, and what worries them?"
MEETINGS = ["ES2002a", "ES2002b", "ES2002c", "ES2002d", "IS1000a", "TS3005a"]


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path) -> Path:
    folder = tmp_path_factory.mktemp("corpus") / "meetings"
    folder.mkdir()
    for m in MEETINGS:
        shutil.copy(sample_corpus / f"{m}.json", folder / f"{m}.json")
    return folder


@pytest.fixture(scope="session")
def analysed(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path):  # type: ignore[no-untyped-def]
    import workbench as wb

    events = []
    project = wb.Project(tmp_path_factory.mktemp("project"))
    run = project.analyze(small_corpus, QUESTION, on_event=events.append)
    return project, run, events
