"""Evaluation of answers and analyses: golden sets, metrics, judges, regression runs.

    golden = load_golden("golden.json")                      # or a meeting-spans bench file
    report = evaluate_analysis(golden, corpus_path)           # per item + overall metrics
    store = RegressionStore(project_dir / ".workbench" / "evals")
    store.save(report, version="0.3.0")
    diff = compare(store.load("0.2.0"), report)              # per-item changes, bootstrap CIs
    report = evaluate_analysis(golden, corpus_path, judge=RubricJudge(model))
    report = calibrate_report(report, load_human_labels("labels.json"))  # judge_trusted

Submodules load lazily: `import workbench.evaluation` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.evaluation.golden import GoldenItem, GoldenSet, GoldSpan, load_golden
    from workbench.evaluation.judge import (
        Calibration,
        RubricJudge,
        calibrate,
        load_human_labels,
        propose_questions,
    )
    from workbench.evaluation.metrics import evidence_metrics, quote_faithfulness, rouge
    from workbench.evaluation.regression import Comparison, RegressionStore, compare
    from workbench.evaluation.runner import EvalReport, calibrate_report, evaluate_analysis

_LAZY = {
    "GoldenItem": "golden",
    "GoldenSet": "golden",
    "GoldSpan": "golden",
    "load_golden": "golden",
    "Calibration": "judge",
    "RubricJudge": "judge",
    "calibrate": "judge",
    "calibrate_report": "runner",
    "load_human_labels": "judge",
    "propose_questions": "judge",
    "evidence_metrics": "metrics",
    "quote_faithfulness": "metrics",
    "rouge": "metrics",
    "Comparison": "regression",
    "RegressionStore": "regression",
    "compare": "regression",
    "EvalReport": "runner",
    "evaluate_analysis": "runner",
}

__all__ = [
    "Calibration",
    "Comparison",
    "EvalReport",
    "GoldSpan",
    "GoldenItem",
    "GoldenSet",
    "RegressionStore",
    "RubricJudge",
    "calibrate",
    "calibrate_report",
    "compare",
    "evaluate_analysis",
    "evidence_metrics",
    "load_golden",
    "load_human_labels",
    "propose_questions",
    "quote_faithfulness",
    "rouge",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"workbench.evaluation.{module}"), name)
    globals()[name] = value
    return value
