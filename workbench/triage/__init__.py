"""Triage: every ticket into the team's own categories, learned from the labels it has.

    run = project.triage("tickets.csv", "labelled.csv", label_column="label",
                         group_column="repo", text_columns="title,body")
    run.labels            # per ticket: category, calibrated confidence, verbatim evidence
    run.review_queue      # the tickets under the review threshold (or flagged)
    run.themes_by_category

Offline, a calibrated stack of linear models on MiniLM embeddings and its layers' states,
TF-IDF features and the ticket's shape (template headings, code, traces) learns the categories (per group with `group_column`); with a model, the ticket-analyst
sorts batches of tickets given the categories' definitions and similar labelled
examples. Tickets under the review threshold go to the review queue (the notebook panel,
or the batch policy), then each category's themes, charts, the deck and the reports.
`workbench eval triage` measures it on a labelled test file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.triage.api import TriageRun, triage
    from workbench.triage.evaluate import evaluate_triage

_LAZY = {
    "triage": "workbench.triage.api",
    "TriageRun": "workbench.triage.api",
    "evaluate_triage": "workbench.triage.evaluate",
}

__all__ = ["TriageRun", "evaluate_triage", "triage"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.triage' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
