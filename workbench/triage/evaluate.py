"""`workbench eval triage`: learn from one labelled file, predict another, score it.

Scores are macro averages (`workbench.triage.metrics`); `overall` is the mean of the
groups' scores when a group column is given. Beside the scores (`details`, not part of
the JSON the CLI prints), what a person also wants to know: how long it took, and how
many tickets the default review threshold would send to a person with the accuracy of
the rest.

Either engine: `offline` learns from the training file (the classifier of a triage run);
`model` has the project's ticket-analyst sort the test tickets in batches, given the
categories' definitions and similar training tickets as examples, exactly as a triage
run does (its tasks, trace and cost are kept in an `eval-triage` run directory). Scores
use the engine's prediction, before any review.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import UserError
from workbench.engines.registry import engine_info, resolve_engine
from workbench.runs.context import HasContext, ProjectContext, context_of
from workbench.triage.labelled import LabelledSet, LoadedTickets, TextColumns, load_labelled
from workbench.triage.metrics import triage_scores
from workbench.triage.records import TicketLabel

if TYPE_CHECKING:
    from subagents.offline.triage import ClassifierSettings, Encoder
    from workbench.core.events import Listener
    from workbench.core.settings import TriageSettings


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
    engine: str = "offline",
    project: ProjectContext | HasContext | None = None,
    definitions: str | Path | Mapping[str, str] | None = None,
    on_event: Listener | None = None,
) -> dict[str, Any]:
    """`{"overall", "groups", "per_label", "details"}`; see the module docstring.

    The model engine needs `project` (its parts, `Project.context()`, or the project: its
    settings, model and agent specs); `settings` defaults to the project's triage settings.
    """
    from workbench.core.settings import TriageSettings

    uses_model = engine_info(engine).uses_model  # an unknown engine lists the choices
    parts = context_of(project) if project is not None else None
    if uses_model and parts is None:
        raise UserError(f"eval triage with the {engine} engine needs a project (its model)")
    s = settings or (parts.settings.triage if parts is not None else TriageSettings())
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
    t1 = time.perf_counter()
    extra: dict[str, Any] = {"engine": engine}
    if uses_model:
        assert parts is not None
        labels, extra_model = _model_labels(
            parts, engine, train_set, test_set, columns, s, definitions, on_event
        )
        extra.update(extra_model)
    else:
        labels, cv_f1, fit_notes = _offline_labels(
            train_set, test_set, columns, group_column, s, classifier, encoder
        )
        extra["cv_f1_on_train"] = cv_f1
        extra["classifier"] = fit_notes
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
        "no_category": sum(1 for p in pred if p is None),
        **extra,
        "notes": train_set.notes() + test_set.notes(),
        "unknown_test_labels": sorted(set(gold) - set(train_set.categories)),
    }
    return out


def _offline_labels(
    train_set: LabelledSet,
    test_set: LabelledSet,
    columns: TextColumns,
    group_column: str | None,
    s: TriageSettings,
    classifier: ClassifierSettings | None,
    encoder: Encoder | None,
) -> tuple[list[TicketLabel], float, list[str]]:
    from workbench.triage.offline import OfflineTriager

    if encoder is None:
        from retrieval import Embedder

        encoder = Embedder()
    triager = OfflineTriager(
        encoder, s, columns=columns, group_column=group_column, classifier=classifier
    )
    report = triager.fit(train_set)
    return triager.label(test_set.documents), report.cv_f1, list(report.notes)


def _model_labels(
    parts: ProjectContext,
    engine: str,
    train_set: LabelledSet,
    test_set: LabelledSet,
    columns: TextColumns,
    s: TriageSettings,
    definitions: str | Path | Mapping[str, str] | None,
    on_event: Listener | None,
) -> tuple[list[TicketLabel], dict[str, Any]]:
    """The ticket-analyst's labels for the test tickets, in a new `eval-triage` run."""
    from workbench.core.aio import run_sync
    from workbench.runs.control import RunControl
    from workbench.runs.store import RunStore, now_iso
    from workbench.triage.api import load_definitions
    from workbench.triage.model import classify_only, describe_categories
    from workbench.triage.request import TriageRequest

    resolve_engine(engine, parts.settings, has_model=parts.has_model)  # no model: says how
    store = RunStore.create(parts.runs_dir, "eval-triage")
    store.update_manifest(
        run_id=store.run_id,
        status="running",
        started_at=now_iso(),
        recipe="eval-triage",
        engine=engine,
        train={"path": str(train_set.path), "examples": len(train_set.documents)},
        test={"path": str(test_set.path), "tickets": len(test_set.documents)},
    )
    req = TriageRequest(
        parts=parts,
        store=store,
        tickets=LoadedTickets(path=test_set.path, documents=test_set.documents),
        labelled=train_set,
        columns=columns,
        engine=engine,
        threshold=s.review_threshold,
        definitions=describe_categories(train_set, load_definitions(definitions)),
        emit=on_event or (lambda e: None),
        control=RunControl(),
        t0=time.perf_counter(),
    )
    try:
        labels = run_sync(classify_only(req))
    except BaseException as e:
        store.update_manifest(status="failed", error=f"{type(e).__name__}: {e}")
        raise
    store.update_manifest(status="complete", finished_at=now_iso())
    cost = float(req.tracker.ledger.cost_usd) if req.tracker is not None else 0.0
    return labels, {"run_dir": str(store.dir), "cost_usd": round(cost, 6)}
