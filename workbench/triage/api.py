"""`Project.triage`: the entry point, and `TriageRun`, what a finished triage reads back as."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.aio import run_sync
from workbench.core.errors import BudgetExceededError, UserError, WorkbenchError
from workbench.core.events import Event, Listener, LogPrinter
from workbench.engines.registry import engine_info, resolve_engine
from workbench.runs.context import HasContext, ProjectContext, context_of
from workbench.runs.control import RunCancelledError, RunControl
from workbench.runs.run import Run
from workbench.runs.store import RunStore, now_iso
from workbench.triage.labelled import (
    LabelledSet,
    LoadedTickets,
    TextColumns,
    load_labelled,
    load_tickets,
)
from workbench.triage.records import TicketLabel
from workbench.triage.request import TriageRequest

if TYPE_CHECKING:
    import polars as pl


RECIPE = "triage"


class TriageRun(Run):
    """A triage run directory: labels per ticket, the review queue, themes per category."""

    @cached_property
    def labels(self) -> list[TicketLabel]:
        path = self.dir / "labels.json"
        if not path.exists():
            return []
        return [TicketLabel.model_validate(x) for x in json.loads(path.read_text("utf-8"))]

    def table(self) -> pl.DataFrame:
        """One row per ticket: category, status, confidence, evidence, flags."""
        import polars as pl

        path = self.dir / "labels.parquet"
        return pl.read_parquet(path) if path.exists() else pl.DataFrame()

    @property
    def categories(self) -> dict[str, int]:
        return dict((self.record.triage or {}).get("categories", {}))

    @property
    def review_queue(self) -> list[dict[str, Any]]:
        path = self.dir / "review_queue.json"
        if not path.exists():
            return []
        return list(json.loads(path.read_text("utf-8")).get("items", []))

    @cached_property
    def themes_by_category(self) -> dict[str, Any]:
        from subagents.findings import Synthesis

        path = self.dir / "themes.json"
        if not path.exists():
            return {}
        data = json.loads(path.read_text("utf-8")).get("categories", {})
        return {c: Synthesis.model_validate(v) for c, v in data.items()}

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["triage"] = self.record.triage or {}
        return out

    def __repr__(self) -> str:
        cats = ", ".join(f"{k} {v}" for k, v in list(self.categories.items())[:6])
        return f"TriageRun({self.id!r}, status={self.status!r}, {cats})"


def _content_key(docs: Sequence[Any]) -> str:
    h = hashlib.sha256()
    for d in docs:
        h.update(f"{d.id}\0{d.content_hash}\n".encode())
    return h.hexdigest()


def load_definitions(value: str | Path | Mapping[str, str] | None) -> dict[str, str]:
    """Category definitions: a mapping, or a JSON file {"category": "definition"}."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    path = Path(value)
    if not path.is_file():
        raise UserError(f"definitions file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f'{path}: not valid JSON ({e}); give {{"category": "definition"}}') from e
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise UserError(f"{path}: give an object of category names to definitions (strings)")
    return {str(k): v for k, v in data.items()}


def triage(
    project: ProjectContext | HasContext,
    tickets: str | Path,
    labels: str | Path,
    *,
    label_column: str = "label",
    group_column: str | None = None,
    text_columns: str | Sequence[str] | None = None,
    engine: str | None = None,
    threshold: float | None = None,
    definitions: str | Path | Mapping[str, str] | None = None,
    resume: bool = True,
    on_event: Listener | None = None,
    control: RunControl | None = None,
) -> TriageRun:
    """Sort `tickets` into the categories of `labels` (see `workbench.triage`).

    `project`: the project's parts (`Project.context()`), or the project itself."""
    from workbench.triage.model import describe_categories
    from workbench.triage.report import counts
    from workbench.triage.run import execute

    parts = context_of(project)
    s = parts.settings
    t0 = time.perf_counter()
    if threshold is not None and not 0 <= threshold <= 1:
        raise UserError(f"the review threshold must be between 0 and 1; got {threshold}")
    chosen = resolve_engine(engine, s, has_model=parts.has_model)
    columns = TextColumns.parse(text_columns)
    emit = on_event or LogPrinter()
    control = control or RunControl(steering_file=s.steering_file)
    loaded: LoadedTickets = load_tickets(tickets, columns)
    labelled: LabelledSet = load_labelled(
        labels,
        label_column=label_column,
        group_column=group_column,
        columns=columns,
        min_examples=s.triage.min_examples,
    )
    for w in loaded.warnings:
        emit(Event("warning", "load", w))
    for sk in loaded.skipped:
        emit(Event("warning", "load", f"skipped {sk}"))
    for n in labelled.notes():
        emit(Event("warning", "labels", n))
    emit(
        Event(
            "note",
            "load",
            f"{len(loaded.documents)} tickets from {loaded.path}; {len(labelled.documents)} "
            f"labelled examples in {len(labelled.categories)} categories from {labelled.path}",
        )
    )
    defs = describe_categories(labelled, load_definitions(definitions))
    unknown = sorted(set(load_definitions(definitions)) - set(labelled.categories))
    if unknown:
        emit(Event("warning", "labels", f"definitions of categories with no examples: {unknown}"))
    thr = s.triage.review_threshold if threshold is None else threshold
    data = {
        "recipe": RECIPE,
        "tickets": _content_key(loaded.documents),
        "labelled": _content_key(labelled.documents),
        "label_column": label_column,
        "group_column": group_column,
        "columns": list(columns.columns),
        "engine": chosen,
        "threshold": thr,
        "definitions": defs,
        "triage": s.triage.model_dump(),
        "models": s.models.model_dump() if engine_info(chosen).uses_model else None,
    }
    input_key = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    store = parts.resumable(input_key) if resume else None
    question = f"Triage into: {', '.join(labelled.categories[:12])}"
    if store is not None:
        emit(Event("note", "run", f"resuming triage run {store.run_id}"))
        store.update_manifest(status="running", resumed_at=now_iso())
    else:
        store = RunStore.create(parts.runs_dir, "triage")
        store.update_manifest(
            **_manifest(parts, store, chosen, input_key, question, loaded, labelled, thr)
        )
    emit(Event("run_started", "", f"run {store.run_id}", data={"run_dir": str(store.dir)}))
    req = TriageRequest(
        parts=parts,
        store=store,
        tickets=loaded,
        labelled=labelled,
        columns=columns,
        engine=chosen,
        threshold=thr,
        definitions=defs,
        emit=emit,
        control=control,
        t0=t0,
    )
    try:
        result = run_sync(execute(req))
    except BaseException as e:
        status = "failed"
        if isinstance(e, KeyboardInterrupt | asyncio.CancelledError):
            status = "interrupted"
        elif isinstance(e, RunCancelledError):
            status = "cancelled"
        fields: dict[str, Any] = {"status": status, "error": f"{type(e).__name__}: {e}"}
        if isinstance(e, BudgetExceededError) and req.tracker is not None:
            fields["stopped_by"] = req.tracker.stopped_by or {"cap": "max_tasks"}
        store.update_manifest(**fields)
        if isinstance(e, WorkbenchError | KeyboardInterrupt):
            raise
        raise WorkbenchError(f"triage run {store.run_id} failed: {type(e).__name__}: {e}") from e
    final = TriageRun(store.dir)
    c = counts(final.labels)
    total = time.perf_counter() - t0
    store.update_manifest(
        status="complete",
        finished_at=now_iso(),
        findings=len(final.labels),
        themes=sum(len(v.themes) for v in final.themes_by_category.values()),
        outputs=result["outputs"],
        reviews={
            "queued": c["reviewed"],
            "decisions": len(req.review.decisions) if req.review else 0,
        },
        triage={
            "categories": c["categories"],
            "status": c["status"],
            "sent_to_review": c["reviewed"],
            "threshold": thr,
            "fit": req.fit,
            "notes": labelled.notes(),
        },
        timings_s={"total": round(total, 3)},
    )
    from workbench.outputs.bundle import make_run_bundle

    bundle = make_run_bundle(store.dir)
    store.update_manifest(outputs={**result["outputs"], "bundle": bundle.name})
    emit(Event("run_done", "", f"run written to {store.dir}"))
    return TriageRun(store.dir)


def _manifest(
    parts: ProjectContext,
    store: RunStore,
    engine: str,
    input_key: str,
    question: str,
    loaded: LoadedTickets,
    labelled: LabelledSet,
    threshold: float,
) -> dict[str, Any]:
    import platform

    from workbench.core.version import __version__
    from workbench.orchestrator.pipeline import ENGINE_NOTES

    return {
        "run_id": store.run_id,
        "status": "running",
        "started_at": now_iso(),
        "attempts": 1,
        "recipe": RECIPE,
        "question": question,
        "engine": engine,
        "engine_note": ENGINE_NOTES.get(engine, "Produced by the model engine."),
        "models": {},
        "input_key": input_key,
        "corpus": {
            "path": str(loaded.path),
            "name": loaded.path.name,
            "hash": _content_key(loaded.documents),
        },
        "labelled": {
            "path": str(labelled.path),
            "label_column": labelled.label_column,
            "group_column": labelled.group_column,
            "examples": len(labelled.documents),
            "categories": labelled.counts(),
        },
        "review_threshold": threshold,
        "documents": len(loaded.documents),
        "skipped": loaded.skipped,
        "warnings": loaded.warnings + labelled.notes(),
        "settings": parts.settings.model_dump(mode="json"),
        "versions": {"research-workbench": __version__, "python": platform.python_version()},
        "cost_usd": 0.0,
    }
