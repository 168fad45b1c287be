"""The CI regression check: the offline golden set must not regress against its baseline.

The baseline (`golden/baseline.json`) is the stored report of the offline engine on
`golden/offline_golden.json` (12 QMSum queries on two AMI meetings). This test answers
the same questions now and fails when a metric's paired bootstrap interval of the change
lies below zero, or when any quote is not verbatim. After an intended change, refresh it:

    workbench eval analysis tests/ask/golden/offline_golden.json --save tests/ask/golden/baseline.json
"""

from __future__ import annotations

import pytest

from workbench.evaluation.golden import load_golden
from workbench.evaluation.regression import compare, load_report
from workbench.evaluation.runner import evaluate_analysis

from .conftest import BASELINE, GOLDEN, MEETINGS, Indexed

pytestmark = pytest.mark.slow


def test_offline_golden_set_does_not_regress(indexed: Indexed) -> None:
    golden = load_golden(GOLDEN)
    assert {d for i in golden.items for d in i.scope.doc_ids or ()} == set(MEETINGS)
    report = evaluate_analysis(
        golden, indexed.corpus.path, project_dir=indexed.project.dir, index=indexed.index
    )
    assert report.overall["quote_faithfulness"] == 1.0
    assert report.overall["answered"] == 1.0
    diff = compare(load_report(BASELINE), report, label_a="baseline", label_b="now")
    assert not diff.regressions, diff.render()
