"""Fixtures for the notebook tests: one small corpus and one project for the session.

Every notebook test points its notebook (through papermill parameters) at these, so the
index is built once and reused: the tests run the real engine, real kernels and real
notebooks, on three meetings instead of twelve.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

MEETINGS = ["ES2002a", "IS1000a", "TS3005a"]
TICKETS = 12


@pytest.fixture(scope="session")
def meetings(tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path) -> Path:
    folder = tmp_path_factory.mktemp("nb-corpus") / "meetings"
    folder.mkdir()
    for m in MEETINGS:
        shutil.copy(sample_corpus / f"{m}.json", folder / f"{m}.json")
    return folder


@pytest.fixture(scope="session")
def tickets(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """The first tickets of the shipped sample (a third of it keeps the test quick)."""
    lines = (repo_root / "samples" / "npm-issues" / "tickets.jsonl").read_text().splitlines()
    assert all(json.loads(line)["title"] for line in lines)
    path = tmp_path_factory.mktemp("nb-tickets") / "tickets.jsonl"
    path.write_text("\n".join(lines[:TICKETS]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def nb_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nb-project")
