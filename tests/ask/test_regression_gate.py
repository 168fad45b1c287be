"""The CI regression check: the offline golden set must not regress against its baseline.

The baseline (`golden/baseline.json`) is the stored report of the offline engine on
`golden/offline_golden.json` (12 QMSum queries on two AMI meetings). This test answers
the same questions now and fails when a metric's paired bootstrap interval of the change
lies below zero, or when any quote is not verbatim. After an intended change, refresh it with a fresh project of the two meetings, as this
test builds one (`evaluate_analysis(...).model_dump(mode="json")` written to the file).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.evaluation.golden import load_golden
from workbench.evaluation.regression import compare, load_report
from workbench.evaluation.runner import evaluate_analysis
from workbench.project import Project
from workbench.runs.corpus import Corpus

from .conftest import BASELINE, GOLDEN, MEETINGS

pytestmark = pytest.mark.slow


def test_offline_golden_set_does_not_regress(two_meetings: Path, tmp_path: Path) -> None:
    golden = load_golden(GOLDEN)
    assert {d for i in golden.items for d in i.scope.doc_ids or ()} == set(MEETINGS)
    # a project of its own: the answers must not depend on what other tests cached
    project = Project(tmp_path / "gate")
    corpus = Corpus.load(two_meetings)
    index = project.index_for(corpus)
    index.update(corpus.documents)
    report = evaluate_analysis(golden, corpus.path, project_dir=project.dir, index=index)
    assert report.overall["quote_faithfulness"] == 1.0
    assert report.overall["answered"] == 1.0
    diff = compare(load_report(BASELINE), report, label_a="baseline", label_b="now")
    assert not diff.regressions, diff.render()
