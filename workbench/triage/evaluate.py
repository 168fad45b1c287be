"""`workbench eval triage`: learn from one labelled file, predict another, score it.

Scores are macro averages (`workbench.triage.metrics`); `overall` is the mean of the
groups' scores when a group column is given. Beside the scores (`details`, not part of
the JSON the CLI prints), what a person also wants to know: how long it took, and how
many tickets the default review threshold would send to a person with the accuracy of
the rest.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.triage.labelled import TextColumns, load_labelled
from workbench.triage.metrics import triage_scores

if TYPE_CHECKING:
    from subagents.offline.triage import ClassifierSettings, Encoder
    from workbench.settings import TriageSettings


def _strip(scores: dict[str, Any]) -> dict[str, Any]:
    keep = ("precision", "recall", "f1")
    return {
        "overall": {k: scores["overall"][k] for k in keep},
        "groups": {g: {k: v[k] for k in keep} for g, v in scores["groups"].items()},
        "per_label": {lab: {k: v[k] for k in keep} for lab, v in scores["per_label"].items()},
    }


def evaluate_triage(
    train: str | Path,
    test: str | Path,
    *,
    label_column: str,
    group_column: str | None = None,
    text_columns: str | list[str] | None = None,
    settings: TriageSettings | None = None,
    classifier: ClassifierSettings | None = None,
    encoder: Encoder | None = None,
) -> dict[str, Any]:
    """`{"overall", "groups", "per_label", "details"}`; see the module docstring."""
    from workbench.settings import TriageSettings
    from workbench.triage.offline import OfflineTriager

    s = settings or TriageSettings()
    columns = TextColumns.parse(text_columns)
    t0 = time.perf_counter()
    train_set = load_labelled(
        train,
        label_column=label_column,
        group_column=group_column,
        columns=columns,
        min_examples=s.min_examples,
    )
    test_set = load_labelled(
        test, label_column=label_column, group_column=group_column, columns=columns, min_examples=1
    )
    if encoder is None:
        from retrieval import Embedder

        encoder = Embedder()
    triager = OfflineTriager(
        encoder, s, columns=columns, group_column=group_column, classifier=classifier
    )
    t1 = time.perf_counter()
    report = triager.fit(train_set)
    labels = triager.label(test_set.documents)
    seconds = time.perf_counter() - t1
    gold = test_set.labels
    pred = [x.predicted for x in labels]
    groups = test_set.groups if group_column else None
    scores = triage_scores(gold, pred, groups)
    conf = [x.confidence for x in labels]
    keep = [i for i, c in enumerate(conf) if c >= s.review_threshold and not labels[i].flags]
    out = _strip(scores)
    out["details"] = {
        "train": len(train_set.documents),
        "test": len(test_set.documents),
        "categories": train_set.categories,
        "seconds_train_and_predict": round(seconds, 2),
        "seconds_total": round(time.perf_counter() - t0, 2),
        "accuracy": scores["overall"]["accuracy"],
        "review_threshold": s.review_threshold,
        "sent_to_review": round(1 - len(keep) / max(1, len(gold)), 4),
        "accuracy_of_the_rest": round(
            sum(1 for i in keep if pred[i] == gold[i]) / max(1, len(keep)), 4
        ),
        "cv_f1_on_train": report.cv_f1,
        "notes": train_set.notes() + test_set.notes(),
        "unknown_test_labels": sorted(set(gold) - set(train_set.categories)),
    }
    return out
