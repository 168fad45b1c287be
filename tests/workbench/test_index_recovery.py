"""`workbench ask` after the index was damaged or the project moved: the same answer, and
stderr says what was repaired (it was exit 0, another answer and silence)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli import main

pytestmark = pytest.mark.slow
QUESTION = "What do they say about the size of the remote?"


@pytest.fixture
def asked(tmp_path: Path) -> tuple[Path, Path, dict[str, object]]:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "m1.txt").write_text(
        "Alice: The remote is far too big for a hand.\nBob: Make it smaller and yellow.\n"
        "Alice: Battery life worries me.\n"
    )
    (corpus / "m2.txt").write_text("Carol: Price matters most.\nDan: The buttons are confusing.\n")
    project = tmp_path / "p"
    return corpus, project, _ask(corpus, project)[0]


def _ask(corpus: Path, project: Path, question: str = QUESTION) -> tuple[dict[str, object], str]:
    args = ["ask", str(corpus), "-q", question, "--project", str(project), "--json"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    return {"text": data["text"], "evidence": [e["quote"] for e in data["evidence"]]}, r.stderr


def _index_dir(project: Path) -> Path:
    (found,) = [p for p in (project / ".workbench" / "index").iterdir() if p.is_dir()]
    return found


def test_deleted_vector_store(asked: tuple[Path, Path, dict[str, object]]) -> None:
    corpus, project, first = asked
    shutil.rmtree(_index_dir(project) / "chroma")
    again, err = _ask(corpus, project)
    assert again == first and "vector store" in err


def test_zeroed_vector_store(asked: tuple[Path, Path, dict[str, object]]) -> None:
    corpus, project, first = asked
    db = _index_dir(project) / "chroma" / "chroma.sqlite3"
    db.write_bytes(bytes(db.stat().st_size))
    again, err = _ask(corpus, project)
    assert again == first and "damaged" in err


def _dense_hits(corpus: Path, project: Path) -> list[str]:
    from workbench.project import Project
    from workbench.runs.corpus import Corpus

    index = Project(project).index_for(Corpus.load(corpus))
    try:
        return [h.chunk_id for h in index.search(QUESTION, k=3, retrievers=("dense",))]
    finally:
        index.close()


def test_moved_project(asked: tuple[Path, Path, dict[str, object]], tmp_path: Path) -> None:
    corpus, project, first = asked
    dense = _dense_hits(corpus, project)
    assert dense
    moved = tmp_path / "moved-project"
    shutil.move(project, moved)
    again, err = _ask(corpus, moved)
    assert again == first and "index:" not in err
    assert _dense_hits(corpus, moved) == dense  # the vectors moved with the project
