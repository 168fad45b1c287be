"""A QDA tool's codebook as --codebook: a workbench project's own "other" and candidate
codes are not coded with; a .qdc keeps the candidate mark."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from exports.qdpx import QdaCode, QdaProject, stable_guid, write_qdpx
from subagents.codebook import Codebook, CodebookCode
from workbench.core.errors import UserError
from workbench.core.settings import AnalysisSettings, Settings
from workbench.engines.codebook import codebook_for, qda_codes
from workbench.outputs.qda import CANDIDATES, OTHER


def _settings(path: Path) -> Settings:
    return Settings(analysis=AnalysisSettings(codebook=str(path)))


def _code(name: str, *children: QdaCode, codable: bool = True) -> QdaCode:
    return QdaCode(guid=stable_guid("t", name), name=name, codable=codable, children=list(children))


def test_a_workbench_project_as_codebook_leaves_out_other_and_candidates(tmp_path: Path) -> None:
    project = QdaProject(
        name="run",
        created=datetime(2026, 1, 1, tzinfo=UTC),
        codes=[
            _code("Remote", _code("Battery")),
            _code(CANDIDATES, _code("Scroll wheel"), codable=False),
            _code(OTHER),
        ],
    )
    book = codebook_for(_settings(write_qdpx(project, tmp_path / "project.qdpx")))
    assert book is not None
    assert [(c.code, c.parent) for c in book.codes] == [("Remote", None), ("Battery", "Remote")]


def test_a_qdc_keeps_the_candidate_mark_and_all_candidates_is_an_error(tmp_path: Path) -> None:
    from exports.qdc import write_qdc

    book = Codebook(
        codes=[
            CodebookCode(code="Remote", description="the remote"),
            CodebookCode(code="Glow", description="lights in the dark", candidate=True),
        ]
    )
    path = write_qdc(qda_codes(book), tmp_path / "book.qdc")
    read = codebook_for(_settings(path))
    assert read is not None and [(c.code, c.description) for c in read.codes] == [
        ("Remote", "the remote")
    ]
    only = write_qdc(qda_codes(Codebook(codes=[book.codes[1]])), tmp_path / "only.qdc")
    with pytest.raises(UserError, match="every code is a candidate"):
        codebook_for(_settings(only))
