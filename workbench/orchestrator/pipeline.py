"""Running a plan: stage by stage, each persisted, with gates, review, critic and replans.

    index -> analyst stages (fan-out over documents / batches / sub-questions)
          -> gates (schema, verbatim quotes, claims, coverage: `gates`) -> review queue
          -> synthesize (themes with prevalence) -> critic (replan, bounded by max_replans)
          -> charts (code run in a sandbox) -> export (deck, HTML and Markdown reports)

The same flow runs with either engine (`engines.offline`, `engines.model`); every output
names the engine that produced it. Every stage writes its results into the run
directory before the next starts; a run started again with the same inputs skips what
is already there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from subagents.findings import Finding, Synthesis
from workbench.core.errors import BudgetExceededError, RunError
from workbench.core.events import Event
from workbench.engines.offline import ENGINE_NOTE
from workbench.engines.offline import ENGINE_SHORT as OFFLINE_SHORT
from workbench.orchestrator.gates import gate
from workbench.orchestrator.plans import RECIPES as PLAN_RECIPES
from workbench.orchestrator.plans import Plan, Stage
from workbench.outputs.tables import compare_segments, write_findings_table
from workbench.runs.context import RunContext
from workbench.runs.corpus import Corpus
from workbench.runs.engine import AnalysisTask
from workbench.runs.fanout import FanOutStats, Task, TokenBucket, fan_out, idempotency_key
from workbench.runs.review import ReviewQueue
from workbench.runs.store import now_iso

# Every output names its engine. The model engine's note names its models, so it is
# made per run (`engines.render.engine_note`); this table holds the fixed ones.
ENGINE_NOTES = {"offline": ENGINE_NOTE}
ENGINE_SHORT = {"offline": OFFLINE_SHORT}

RECIPES = (*PLAN_RECIPES, "auto")


def _tasks_for(
    ctx: RunContext,
    stage: Stage,
    revision: int = 0,
    notes: dict[str, list[str]] | None = None,
    only: set[str] | None = None,
) -> list[Task]:
    docs = ctx.corpus.documents
    if only is not None:
        docs = [d for d in docs if d.id in only]
    a = ctx.settings.analysis
    version = ctx.runner.version(stage.subagent)
    groups: list[list[Any]]
    if stage.fan_out == "batches":
        groups = [docs[i : i + stage.batch_size] for i in range(0, len(docs), stage.batch_size)]
    elif stage.fan_out == "none":
        groups = [list(docs)]
    else:
        groups = [[d] for d in docs]
    subs: list[str | None] = (
        list(stage.sub_questions) if stage.fan_out == "sub_questions" else [None]
    )
    out = []
    for sub in subs:
        for g in groups:
            ids = [d.id for d in g]
            doc_notes = sorted({n for d in ids for n in (notes or {}).get(d, [])})
            inputs: dict[str, Any] = {
                "question": ctx.question,
                "max_findings": a.max_findings_per_document,
            }
            if len(g) == 1:
                inputs["doc"] = g[0].content_hash
            else:
                inputs["docs"] = [d.content_hash for d in g]
            # roles and recurring text are read with the text: a change re-runs the task
            inputs["annotations"] = [Corpus.annotation_key(d) for d in g]
            if stage.id != "analyze":
                inputs["stage_goal"] = stage.goal
            if sub:
                inputs["sub_question"] = sub
            if revision:
                inputs.update(revision=revision, notes=doc_notes)
            out.append(
                Task(
                    key=idempotency_key(stage.id, version, **inputs),
                    stage=stage.id,
                    label=(g[0].title if len(g) == 1 else f"{len(g)} {ctx.corpus.noun}")
                    + (f" / {sub}" if sub else ""),
                    payload=AnalysisTask(
                        doc_ids=ids,
                        question=ctx.question,
                        sub_question=sub,
                        subagent=stage.subagent,
                        goal=stage.goal,
                        notes=doc_notes,
                    ).model_dump(),
                )
            )
    return out


async def _execute(
    ctx: RunContext, stage: Stage, tasks: list[Task]
) -> tuple[list[dict[str, Any]], FanOutStats]:
    s = ctx.settings

    def progress(task: Task, result: dict[str, Any] | None, st: FanOutStats) -> None:
        n = len(result.get("findings", [])) if result else 0
        ctx.emit(
            Event(
                "task_done" if result is not None else "task_failed",
                stage.id,
                task.label,
                done=st.reused + st.executed + st.failed,
                total=st.total,
                data={"reused": st.reused, "findings": n, "key": task.key},
            )
        )

    reused_before = sum(1 for t in tasks if ctx.store.has_task(t.key))
    what = f"{len(tasks)} tasks ({stage.subagent}, per {stage.fan_out.rstrip('s') or 'run'})"
    ctx.emit(
        Event(
            "stage_started",
            stage.id,
            f"{what}, {reused_before} already finished" if reused_before else what,
            total=len(tasks),
        )
    )
    with ctx.tracer.start_as_current_span(f"stage {stage.id}") as span:
        span.set_attribute("workbench.tasks", len(tasks))
        span.set_attribute("gen_ai.agent.name", stage.subagent)
        if s.executor == "ray":
            from workbench.runs.executor_ray import ray_fan_out

            results, stats = await ray_fan_out(
                tasks,
                ctx.runner,
                ctx.store,
                concurrency=s.concurrency,
                on_done=progress,
                max_tasks=s.budgets.max_tasks,
                control=ctx.control,
                budget=ctx.budget,
                address=s.ray_address,
            )
        else:
            tracer = ctx.tracer

            async def run_task(task: Task) -> dict[str, Any]:
                with tracer.start_as_current_span(f"task {stage.id}") as tspan:
                    tspan.set_attribute("workbench.task_key", task.key)
                    tspan.set_attribute("workbench.documents", task.payload["doc_ids"])
                    tspan.set_attribute("gen_ai.operation.name", "invoke_agent")
                    tspan.set_attribute("gen_ai.agent.name", stage.subagent)
                    tspan.set_attribute(
                        "gen_ai.system", "anthropic" if ctx.runner.uses_model else ctx.engine
                    )
                    if task.steering:
                        tspan.set_attribute("workbench.steering", list(task.steering))
                    result: dict[str, Any] = await ctx.runner.analyze(task)
                    tspan.set_attribute("workbench.findings", len(result["findings"]))
                    return result

            results, stats = await fan_out(
                tasks,
                run_task,
                ctx.store,
                concurrency=s.concurrency,
                on_done=progress,
                max_tasks=s.budgets.max_tasks,
                control=ctx.control,
                budget=ctx.budget,
                bucket=TokenBucket(s.tasks_per_second) if s.tasks_per_second else None,
            )
    ctx.stats[stage.id] = stats
    ctx.store.append_jsonl(
        "trace.jsonl",
        {
            "event": "stage_done",
            "stage": stage.id,
            "executed": stats.executed,
            "reused": stats.reused,
        },
    )
    return results, stats


async def run_plan(ctx: RunContext, plan: Plan) -> dict[str, Any]:

    store, corpus = ctx.store, ctx.corpus
    total = len(corpus.documents)
    ctx.review = ctx.review or ReviewQueue(store, ctx.settings.review, ctx.control)
    if ctx.control is not None:
        ctx.control.review = ctx.review
    stage_results: dict[str, list[dict[str, Any]]] = {}
    for stage in plan.of_kind("analyze"):
        tasks = _tasks_for(ctx, stage)
        try:
            results, stats = await _execute(ctx, stage, tasks)
        except BudgetExceededError:
            _write_partial(ctx, stage, tasks)
            raise
        if stats.unstarted:
            _write_partial(ctx, stage, tasks)
            raise BudgetExceededError(
                f"stopped by the task budget (max_tasks={ctx.settings.budgets.max_tasks}) after "
                f"{len(results)} of {len(tasks)} tasks; run again to continue",
                run_id=store.run_id,
                stage=stage.id,
            )
        if stats.failed:
            ctx.emit(
                Event(
                    "warning",
                    stage.id,
                    f"{stats.failed} tasks failed: " + "; ".join(stats.failures[:3]),
                )
            )
        stage_results[stage.id] = results
    findings = [
        f for st in plan.of_kind("analyze") for f in gate(ctx, st, stage_results[st.id], total)
    ]
    for st in plan.of_kind("analyze"):
        if ctx.stats[st.id].failed:
            failed = ctx.stats[st.id]
            raise RunError(
                f"{failed.failed} of {failed.total} tasks failed: "
                + "; ".join(failed.failures[:3]),
                run_id=store.run_id,
                stage=st.id,
            )

    replans = 0
    while True:
        queued = ctx.review.propose(findings)
        pending = ctx.review.pending()
        if pending:
            ctx.emit(
                Event(
                    "review_queued",
                    "review",
                    f"{len(pending)} of {len(queued)} findings under the confidence threshold "
                    f"wait for review (policy: {ctx.settings.review.policy})",
                    data={"pending": len(pending)},
                )
            )
        await ctx.review.settle()
        kept = ctx.review.apply(findings)
        synthesis = await _synthesize(ctx, kept)
        critique = await _critique(ctx, plan, kept, synthesis)
        if critique is None or critique.verdict == "pass" or replans >= ctx.settings.max_replans:
            break
        redo = _docs_to_redo(critique, kept)
        if not redo:
            break
        replans += 1
        findings = await _replan(ctx, plan, findings, redo, replans, critique.summary)
    if critique is not None:
        from subagents.offline.critic import flag_themes

        synthesis = flag_themes(synthesis, critique)
        _write_themes(ctx, synthesis)
    write_findings_table(store, kept, synthesis, corpus.by_id())
    comparison = None
    if any(st.options.get("compare_by") for st in plan.of_kind("synthesize")):
        comparison = compare_segments(store, corpus, kept, synthesis)
        ctx.emit(Event("stage_done", "compare", f"themes compared by {comparison['by']}"))

    from workbench.outputs.charts import make_charts
    from workbench.outputs.reporting import write_exports

    charts: list[Any] = []
    if plan.of_kind("charts"):
        await _checkpoint(ctx, "charts")
        ctx.emit(Event("stage_started", "charts", "drawing charts in the sandbox"))
        with ctx.tracer.start_as_current_span("stage charts"):
            charts = await asyncio.to_thread(make_charts, ctx, kept, synthesis)
        ctx.emit(Event("stage_done", "charts", f"{len(charts)} charts"))
    await _checkpoint(ctx, "export")
    with ctx.tracer.start_as_current_span("stage export"):
        outputs = await asyncio.to_thread(write_exports, ctx, kept, synthesis, charts, critique)
    ctx.emit(Event("stage_done", "export", ", ".join(sorted(outputs))))
    analyze_stats = [ctx.stats[s.id] for s in plan.of_kind("analyze") if s.id in ctx.stats]
    return {
        "findings": len(kept),
        "themes": len(synthesis.themes),
        "outputs": outputs,
        "analyze": {
            "executed": sum(s.executed for s in analyze_stats),
            "reused": sum(s.reused for s in analyze_stats),
        },
        "replans": replans,
        "comparison": comparison,
        "critic": critique.model_dump(mode="json") if critique else None,
        "reviews": {
            "queued": len(ctx.review.items()),
            "decisions": len(ctx.review.decisions),
        },
    }


async def _checkpoint(ctx: RunContext, where: str) -> list[str]:
    if ctx.control is None:
        return []
    return [m.text for m in await ctx.control.checkpoint(where)]


async def _synthesize(ctx: RunContext, findings: Sequence[Finding]) -> Synthesis:
    a = ctx.settings.analysis
    steering = await _checkpoint(ctx, "synthesize")
    key = idempotency_key(
        "synthesize",
        ctx.runner.synthesis_version(),
        findings=sorted(f.id for f in findings),
        claims=sorted(f.claim for f in findings),
        docs=[d.id for d in ctx.corpus.documents],
        max_themes=a.max_themes,
        share=a.min_theme_share,
        distance=a.cluster_distance,
    )
    done = ctx.store.load_task(key)
    if done is not None:
        synthesis = Synthesis.model_validate(done["synthesis"])
    else:
        ctx.emit(
            Event("stage_started", "synthesize", f"grouping {len(findings)} findings into themes")
        )
        t0 = time.perf_counter()
        with ctx.tracer.start_as_current_span("stage synthesize"):
            synthesis = await ctx.runner.synthesize(
                findings,
                [d.id for d in ctx.corpus.documents],
                noun=ctx.corpus.noun,
                question=ctx.question,
                steering=steering,
            )
        ctx.store.save_task(
            key,
            {"synthesis": synthesis.model_dump(mode="json"), "seconds": time.perf_counter() - t0},
        )
    _write_themes(ctx, synthesis)
    labels = "; ".join(f"{t.label} ({t.n_documents}/{t.total_documents})" for t in synthesis.themes)
    ctx.emit(Event("stage_done", "synthesize", f"{len(synthesis.themes)} themes: {labels}"))
    return synthesis


def _write_themes(ctx: RunContext, synthesis: Synthesis) -> None:
    ctx.store.write_json(
        "themes.json",
        {
            "engine": ctx.engine,
            "engine_note": ctx.engine_note,
            "speaker_roles": ctx.corpus.interviewer_summary(),
            **synthesis.model_dump(mode="json"),
        },
    )


async def _critique(
    ctx: RunContext, plan: Plan, findings: Sequence[Finding], synthesis: Synthesis
) -> Any:
    from subagents.outputs import CriticOutput

    if not plan.of_kind("critic"):
        return None
    await _checkpoint(ctx, "critic")
    key = idempotency_key(
        "critic",
        ctx.runner.version("critic") if ctx.runner.uses_model else "researcher-critic/2",
        findings=sorted(f.id for f in findings),
        themes=[(t.label, t.finding_ids) for t in synthesis.themes],
        question=ctx.question,
    )
    done = ctx.store.load_task(key)
    if done is not None:
        critique = CriticOutput.model_validate(done["critique"])
    else:
        with ctx.tracer.start_as_current_span("stage critic"):
            critique = await ctx.runner.critique(findings, synthesis, question=ctx.question)
        ctx.store.save_task(key, {"critique": critique.model_dump(mode="json")})
    ctx.emit(
        Event("stage_done", "critic", f"verdict {critique.verdict}: {len(critique.issues)} issues")
    )
    return critique


def _docs_to_redo(critique: Any, findings: Sequence[Finding]) -> dict[str, list[str]]:
    by_id = {f.id: f for f in findings}
    redo: dict[str, list[str]] = {}
    for issue in critique.issues:
        f = by_id.get(issue.finding_id or "")
        if f is not None and issue.severity in ("medium", "high"):
            redo.setdefault(f.doc_id, []).append(f"{issue.kind} in finding {f.id}: {issue.detail}")
    return redo


async def _replan(
    ctx: RunContext,
    plan: Plan,
    findings: list[Finding],
    redo: dict[str, list[str]],
    n: int,
    why: str,
) -> list[Finding]:
    """Re-run the analyst tasks of the documents the critic flagged, with its notes."""
    await _checkpoint(ctx, f"replan {n}")
    record = {"at": now_iso(), "revision": n, "reason": why, "documents": sorted(redo)}
    plans = ctx.store.read_json("plan.json")
    plans.setdefault("replans", []).append(record)
    ctx.store.write_json("plan.json", plans)
    ctx.emit(
        Event(
            "note", "replan", f"revision {n}: re-running {len(redo)} documents the critic flagged"
        )
    )
    kept = [f for f in findings if f.doc_id not in redo]
    for stage in plan.of_kind("analyze"):
        tasks = _tasks_for(ctx, stage, revision=n, notes=redo, only=set(redo))
        results, _ = await _execute(ctx, stage, tasks)
        if results:
            kept.extend(gate(ctx, stage, results, len(redo), record=False))
    return kept


def _write_partial(ctx: RunContext, stage: Stage, tasks: list[Task]) -> None:
    """Budget stop: the findings finished so far, as a table, marked partial."""
    results = [r for t in tasks if (r := ctx.store.load_task(t.key)) is not None]
    findings = [Finding.model_validate(f) for r in results for f in r.get("findings", [])]
    write_findings_table(ctx.store, findings, Synthesis(themes=[]), ctx.corpus.by_id())
    ctx.store.update_manifest(
        partial={
            "stage": stage.id,
            "tasks_finished": len(results),
            "of": len(tasks),
            "findings": len(findings),
        }
    )
