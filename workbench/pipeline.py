"""The `themes` recipe, run by the offline engine: stage by stage, each persisted.

    index -> analyze (fan-out: one extractive analyst per document) -> gate (verbatim
    quotes) -> synthesize (clustering into themes) -> charts (code run in a sandbox)
    -> export (deck, HTML and Markdown reports)

Every stage writes its results into the run directory before the next starts; a run
started again with the same inputs skips what is already there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from subagents.findings import Finding, Synthesis
from workbench.corpus import Corpus
from workbench.errors import RunError
from workbench.events import Event, Listener
from workbench.fanout import Task, fan_out, idempotency_key, require_all
from workbench.settings import Settings
from workbench.store import RunStore, now_iso

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from retrieval import Embedder, HybridIndex

ENGINE_NOTES = {
    "offline": (
        "Produced by the offline engine: no language model was used. Findings are verbatim "
        "extracts chosen by retrieval and sentence scoring; themes are clusters of them."
    ),
}

# The short form, for places with little room (chart footers, slide footers).
ENGINE_SHORT = {"offline": "Offline engine: no language model was used."}

RECIPES = ("themes",)


@dataclass
class RunContext:
    store: RunStore
    corpus: Corpus
    question: str
    settings: Settings
    index: HybridIndex
    embedder: Embedder
    emit: Listener
    tracer: Tracer
    engine: str = "offline"


class _IndexSearcher:
    """Adapts the project's index to the analyst's `Searcher` protocol."""

    def __init__(self, index: HybridIndex) -> None:
        self.index = index

    def search(self, query: str, *, k: int, doc_ids: list[str]) -> list[Any]:
        return self.index.search(query, k=k, doc_ids=doc_ids)


def plan_for(recipe: str, corpus: Corpus) -> dict[str, Any]:
    n = len(corpus.documents)
    return {
        "recipe": recipe,
        "source": "recipe",
        "stages": [
            {
                "name": "analyze",
                "agent": "interview-analyst (extractive)",
                "fan_out": "per document",
                "tasks": n,
            },
            {
                "name": "gate",
                "agent": "critic (mechanical)",
                "checks": ["verbatim quotes"],
                "depends_on": ["analyze"],
            },
            {
                "name": "synthesize",
                "agent": "theme-synthesizer (clustering)",
                "depends_on": ["gate"],
            },
            {
                "name": "charts",
                "agent": "chart-maker (templated, sandboxed)",
                "depends_on": ["synthesize"],
            },
            {
                "name": "export",
                "outputs": ["deck.pptx", "report.html", "report.md"],
                "depends_on": ["charts"],
            },
        ],
    }


async def run_themes(ctx: RunContext) -> dict[str, Any]:
    from subagents.offline.analyst import ANALYST_VERSION, AnalystSettings, ExtractiveAnalyst
    from subagents.verify import check_findings

    store, corpus, s = ctx.store, ctx.corpus, ctx.settings
    docs = corpus.documents
    by_id = corpus.by_id()
    analyst = ExtractiveAnalyst(
        _IndexSearcher(ctx.index),
        ctx.embedder,
        AnalystSettings(max_findings=s.analysis.max_findings_per_document),
    )

    # analyze: one task per document ------------------------------------------------
    tasks = [
        Task(
            key=idempotency_key(
                "analyze",
                ANALYST_VERSION,
                doc=d.content_hash,
                question=ctx.question,
                max_findings=s.analysis.max_findings_per_document,
            ),
            stage="analyze",
            label=d.title,
            payload=d.id,
        )
        for d in docs
    ]

    async def analyze(task: Task) -> dict[str, Any]:
        doc = by_id[task.payload]
        with ctx.tracer.start_as_current_span("task analyze") as span:
            span.set_attribute("workbench.task_key", task.key)
            span.set_attribute("workbench.document", doc.id)
            span.set_attribute("gen_ai.operation.name", "extract")
            span.set_attribute("gen_ai.system", "offline")
            found = await asyncio.to_thread(analyst.analyze, doc, ctx.question, task_key=task.key)
            span.set_attribute("workbench.findings", len(found))
        return {
            "doc_id": doc.id,
            "findings": [f.model_dump(mode="json") for f in found],
            "finished_at": now_iso(),
        }

    def progress(task: Task, result: dict[str, Any] | None, st: Any) -> None:
        done = st.reused + st.executed + st.failed
        ctx.emit(
            Event(
                "task_done",
                "analyze",
                task.label,
                done=done,
                total=st.total,
                data={"reused": st.reused},
            )
        )

    reused_before = len(store.finished_tasks())
    ctx.emit(
        Event(
            "stage_started",
            "analyze",
            f"{len(tasks)} documents, {reused_before} already finished"
            if reused_before
            else f"{len(tasks)} documents",
        )
    )
    with ctx.tracer.start_as_current_span("stage analyze"):
        results, stats = await fan_out(
            tasks,
            analyze,
            store,
            concurrency=s.concurrency,
            on_done=progress,
            max_tasks=s.budgets.max_tasks,
        )
    require_all(stats, "analyze", store.run_id)
    if len(results) < len(tasks):
        raise RunError(
            f"stopped by the task budget (max_tasks={s.budgets.max_tasks}) after "
            f"{len(results)} of {len(tasks)} documents; run again to continue",
            run_id=store.run_id,
            stage="analyze",
        )
    store.append_jsonl(
        "trace.jsonl",
        {
            "event": "stage_done",
            "stage": "analyze",
            "executed": stats.executed,
            "reused": stats.reused,
        },
    )
    findings = [Finding.model_validate(f) for r in results for f in r["findings"]]

    # gate: every quote verbatim in its source -------------------------------------
    problems = check_findings(findings, by_id)
    if problems:
        bad = {p.finding_id for p in problems}
        findings = [f for f in findings if f.id not in bad]
        for p in problems:
            ctx.emit(
                Event(
                    "warning", "gate", f"dropped finding {p.finding_id} in {p.doc_id}: {p.problem}"
                )
            )
    ctx.emit(
        Event(
            "stage_done", "gate", f"{len(findings)} findings, all quotes verbatim in their sources"
        )
    )
    store.update_manifest(
        quote_check={"checked": len(findings) + len(problems), "failed": len(problems)}
    )

    # synthesize --------------------------------------------------------------------
    synthesis = await _synthesize(ctx, findings)
    _write_findings_table(store, findings, synthesis, by_id)

    # charts and exports ---------------------------------------------------------------
    from workbench.charts import make_charts
    from workbench.reporting import write_exports

    ctx.emit(Event("stage_started", "charts", "drawing charts in the sandbox"))
    with ctx.tracer.start_as_current_span("stage charts"):
        charts = await asyncio.to_thread(make_charts, ctx, findings, synthesis)
    ctx.emit(Event("stage_done", "charts", f"{len(charts)} charts"))
    with ctx.tracer.start_as_current_span("stage export"):
        outputs = await asyncio.to_thread(write_exports, ctx, findings, synthesis, charts)
    ctx.emit(Event("stage_done", "export", ", ".join(sorted(outputs))))
    return {
        "findings": len(findings),
        "themes": len(synthesis.themes),
        "outputs": outputs,
        "analyze": {"executed": stats.executed, "reused": stats.reused},
    }


async def _synthesize(ctx: RunContext, findings: Sequence[Finding]) -> Synthesis:
    from subagents.offline.synthesis import (
        SYNTHESIS_VERSION,
        ClusteringSynthesizer,
        SynthesisSettings,
    )

    a = ctx.settings.analysis
    key = idempotency_key(
        "synthesize",
        SYNTHESIS_VERSION,
        findings=sorted(f.id for f in findings),
        docs=[d.id for d in ctx.corpus.documents],
        max_themes=a.max_themes,
        share=a.min_theme_share,
        distance=a.cluster_distance,
    )
    done = ctx.store.load_task(key)
    if done is not None:
        synthesis = Synthesis.model_validate(done["synthesis"])
    else:
        ctx.emit(Event("stage_started", "synthesize", f"clustering {len(findings)} findings"))
        synth = ClusteringSynthesizer(
            ctx.embedder,
            SynthesisSettings(
                distance_threshold=a.cluster_distance,
                min_doc_share=a.min_theme_share,
                max_themes=a.max_themes,
            ),
        )
        t0 = time.perf_counter()
        with ctx.tracer.start_as_current_span("stage synthesize"):
            synthesis = await asyncio.to_thread(
                synth.synthesize,
                findings,
                [d.id for d in ctx.corpus.documents],
                noun=ctx.corpus.noun,
                question=ctx.question,
            )
        ctx.store.save_task(
            key,
            {"synthesis": synthesis.model_dump(mode="json"), "seconds": time.perf_counter() - t0},
        )
    ctx.store.write_json(
        "themes.json",
        {
            "engine": ctx.engine,
            "engine_note": ENGINE_NOTES[ctx.engine],
            **synthesis.model_dump(mode="json"),
        },
    )
    labels = "; ".join(f"{t.label} ({t.n_documents}/{t.total_documents})" for t in synthesis.themes)
    ctx.emit(Event("stage_done", "synthesize", f"{len(synthesis.themes)} themes: {labels}"))
    return synthesis


def _write_findings_table(
    store: RunStore, findings: Sequence[Finding], synthesis: Synthesis, by_id: dict[str, Any]
) -> None:
    import polars as pl

    theme_of = {fid: t for t in synthesis.themes for fid in t.finding_ids}
    rows = []
    for f in findings:
        ev = f.evidence[0]
        t = theme_of.get(f.id)
        rows.append(
            {
                "finding_id": f.id,
                "doc_id": f.doc_id,
                "doc_title": by_id[f.doc_id].title,
                "claim": f.claim,
                "quote": ev.quote,
                "speaker": ev.speaker,
                "segment_id": ev.segment_id,
                "start_char": ev.start_char,
                "end_char": ev.end_char,
                "start_time": ev.start_time,
                "end_time": ev.end_time,
                "confidence": f.confidence,
                "sentiment": f.sentiment,
                "theme_id": t.id if t else None,
                "theme_label": t.label if t else None,
                "engine": f.engine,
                "task_key": f.task_key,
            }
        )
    schema = {
        "start_char": pl.Int64,
        "end_char": pl.Int64,
        "start_time": pl.Float64,
        "end_time": pl.Float64,
        "speaker": pl.Utf8,
        "theme_id": pl.Utf8,
        "theme_label": pl.Utf8,
    }
    df = (
        pl.DataFrame(rows, schema_overrides=schema)
        if rows
        else pl.DataFrame(schema={"finding_id": pl.Utf8})
    )
    tmp = store.dir / ".findings.parquet.tmp"
    df.write_parquet(tmp)
    tmp.replace(store.dir / "findings.parquet")
