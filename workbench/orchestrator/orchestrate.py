"""One run, start to end, on one event loop: model stack, index, plan, approval, stages.

`Project.analyze` prepares the run directory and calls `execute`; everything that
talks to a model happens on this one loop (the index's synthetic-query writer too), so
a model's HTTP client never crosses loops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from workbench.core.errors import UserError
from workbench.core.events import Event, Listener
from workbench.core.tracing import make_tracer, summarize
from workbench.engines.registry import build_engine, engine_info
from workbench.orchestrator.plans import Plan, plan_from_planner, recipe_plan
from workbench.runs.budgets import BudgetTracker, MeteredModel
from workbench.runs.context import RunContext
from workbench.runs.store import CASSETTE_KEYS, RunStore, now_iso

if TYPE_CHECKING:
    from retrieval.types import Chunk
    from workbench.orchestrator.plans import Plan
    from workbench.runs.budgets import BudgetTracker
    from workbench.runs.context import ProjectContext
    from workbench.runs.control import RunControl
    from workbench.runs.corpus import Corpus


@dataclass
class RunRequest:
    parts: ProjectContext
    store: RunStore
    corpus: Corpus
    question: str
    recipe: str
    engine: str
    emit: Listener
    control: RunControl
    plan: Any
    t0: float
    t_load: float
    tracker: BudgetTracker | None = None


class _LoopQueryGenerator:
    """The index asks for queries from a worker thread; the model runs on the run's loop."""

    def __init__(self, inner: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = inner
        self.loop = loop
        self.name = inner.name

    def generate(self, chunks: Sequence[Chunk], n: int) -> list[list[str]]:
        from opentelemetry import context

        parent = context.get_current()  # the index stage's span, so model calls nest under it

        async def go() -> list[list[str]]:
            token = context.attach(parent)
            try:
                return list(await self.inner.agenerate(chunks, n))
            finally:
                context.detach(token)

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result()


async def execute(req: RunRequest) -> None:
    from retrieval import Embedder
    from workbench.orchestrator.pipeline import run_plan

    parts, store, corpus, s = req.parts, req.store, req.corpus, req.parts.settings
    emit = req.emit
    control = req.control
    control.bind_loop()
    control.attach(store)
    tracker = BudgetTracker(s.budgets, tasks_done_before=len(store.finished_tasks()))
    req.tracker = tracker
    tracer, provider = make_tracer(store.dir / "trace.jsonl")
    model = None
    index = None
    embedder = Embedder()
    try:
        with tracer.start_as_current_span(f"run {req.recipe}") as span:
            span.set_attribute("workbench.run_id", store.run_id)
            span.set_attribute("workbench.engine", req.engine)
            generator = None
            info = engine_info(req.engine)
            if info.uses_model:
                from workbench.engines.model_stack import build_model

                inner = build_model(
                    s,
                    parts.wb_dir / "cache.sqlite",
                    parts.injected_model(),
                    keys_file=store.dir / CASSETTE_KEYS,
                )
                model = MeteredModel(inner, tracker, run_id=store.run_id, tracer=tracer)
                if s.models.synthetic_queries:
                    from subagents.query_writer import LLMQueryGenerator

                    generator = _LoopQueryGenerator(
                        LLMQueryGenerator(model), asyncio.get_running_loop()
                    )
            t1 = time.perf_counter()
            emit(Event("stage_started", "index", f"indexing {len(corpus)} {corpus.noun}"))
            index = parts.index_for(corpus, query_generator=generator)
            index.on_wait = lambda m: emit(Event("note", "index", m))
            loop = asyncio.get_running_loop()

            def progress(done: int, total: int) -> None:  # from the indexing thread
                ev = Event("progress", "index", "chunks indexed", done, total, {"unit": "chunks"})
                loop.call_soon_threadsafe(emit, ev)

            with tracer.start_as_current_span("stage index"):
                stats = await asyncio.to_thread(index.update, corpus.documents, progress=progress)
            for repair in index.repairs:  # a damaged or lost index file, found and fixed
                emit(Event("warning", "index", repair))
            t_index = time.perf_counter() - t1
            emit(Event("stage_done", "index", f"{_fmt_stats(stats)} in {t_index:.1f}s"))

            docs = corpus.by_id()
            specs = None
            if info.uses_model:
                from subagents.spec_loader import load_specs

                specs = load_specs(parts.dir)
            runner = build_engine(
                req.engine,
                s,
                index=index,
                embedder=embedder,
                corpus=corpus,
                docs=docs,
                model=model,
                specs=specs,
                tracer=tracer,
            )
            note, short = runner.note, runner.short
            if runner.models:
                store.update_manifest(models=runner.models, engine_note=note)
            elif runner.codebook is not None:  # the manifest says a codebook coded the themes
                store.update_manifest(engine_note=note)
            ctx = RunContext(
                store=store,
                corpus=corpus,
                question=req.question,
                settings=s,
                index=index,
                embedder=embedder,
                emit=emit,
                tracer=tracer,
                engine=req.engine,
                engine_note=note,
                engine_short=short,
                runner=runner,
                control=control,
                sandbox=parts.sandbox,
                budget=tracker,
                cost_usd=lambda: tracker.ledger.cost_usd,
            )
            plan = await _plan(req, ctx)
            t2 = time.perf_counter()
            result = await run_plan(ctx, plan)
    finally:
        _close(model)
        if index is not None:
            index.close()
        store.close()
        ledger = tracker.ledger.as_dict()
        store.update_manifest(
            cost_usd=float(tracker.ledger.cost_usd),
            cost_usd_exact=ledger["cost_usd"],
            tokens=ledger["tokens"],
            model_usage=ledger,
        )
        provider.shutdown()
        store.update_manifest(summary=summarize(store.dir / "trace.jsonl", ledger))
    t_total = time.perf_counter() - req.t0
    store.update_manifest(
        status="complete",
        finished_at=now_iso(),
        findings=result["findings"],
        themes=result["themes"],
        outputs=result["outputs"],
        tasks=result["analyze"],
        replans=result["replans"],
        comparison=result["comparison"],
        critic=result["critic"],
        reviews=result["reviews"],
        steering=[
            {
                "id": m.id,
                "text": m.text,
                "received_at": m.received_at,
                "applied_at": m.applied_at,
                "applied_where": m.applied_where,
            }
            for m in control.messages
        ],
        timings_s={
            "load": round(req.t_load, 3),
            "index": round(t_index, 3),
            "analysis_and_exports": round(time.perf_counter() - t2, 3),
            "total": round(t_total, 3),
        },
        index=_jsonable(stats),
    )
    # the shareable bundle is made last, so it carries the finished manifest
    from workbench.outputs.bundle import make_run_bundle

    bundle = make_run_bundle(store.dir)
    store.update_manifest(outputs={**result["outputs"], "bundle": bundle.name})
    emit(Event("run_done", "", f"run written to {store.dir} ({note.split(':')[0]})"))


async def _plan(req: RunRequest, ctx: Any) -> Plan:
    """The plan: reused on resume; else given, from a recipe, or from the planner."""

    store, s = req.store, req.parts.settings
    names = _subagents(req)
    if (store.dir / "plan.json").exists():
        saved = store.read_json("plan.json")
        if saved.get("plan"):
            return Plan.model_validate(saved["plan"])
    steering = [m.text for m in await req.control.checkpoint("planning")]
    batch = s.analysis.batch_size
    if req.plan is not None:
        plan = Plan.from_user(req.plan, names)
    elif req.recipe == "auto" and ctx.runner.uses_model:
        ctx.emit(Event("stage_started", "plan", "the planner is writing a plan"))
        out = await ctx.runner.plan(req.question, _describe(req.corpus), steering)
        try:
            plan = plan_from_planner(out, req.question, names, batch_size=batch)
        except UserError as e:
            ctx.emit(Event("warning", "plan", f"planner's plan refused ({e}); using 'themes'"))
            plan = recipe_plan("themes", req.corpus, req.question, batch_size=batch)
    else:
        if req.recipe == "auto":
            ctx.emit(Event("note", "plan", "no model: the 'themes' recipe plans this run"))
        recipe = "themes" if req.recipe == "auto" else req.recipe
        plan = recipe_plan(recipe, req.corpus, req.question, batch_size=batch)
    plan.validate_against(names)
    if s.autonomy == "review-plan" and not req.control.interactive:
        ctx.emit(
            Event(
                "warning",
                "plan",
                "autonomy is review-plan but nobody can approve here (use project.start in a "
                "notebook); the plan was approved automatically",
            )
        )
    elif s.autonomy == "review-plan":
        ctx.emit(
            Event(
                "plan_proposed",
                "plan",
                "waiting for plan approval",
                data={"plan": plan.model_dump(mode="json")},
            )
        )
        edited = await req.control.wait_plan_approval()
        if edited is not None:
            plan = Plan.from_user(edited, names)
        ctx.emit(Event("note", "plan", "plan approved"))
    store.write_json(
        "plan.json",
        {
            "approved_at": now_iso(),
            "autonomy": s.autonomy,
            "plan": plan.model_dump(mode="json"),
            "plans": [plan.model_dump(mode="json")],
            "replans": [],
        },
    )
    return plan


def _subagents(req: RunRequest) -> dict[str, str | None]:
    from subagents.spec_loader import load_specs

    return {name: spec.output for name, spec in load_specs(req.parts.dir).items()}


def _describe(corpus: Corpus) -> str:
    kinds: dict[str, int] = {}
    keys: set[str] = set()
    for d in corpus.documents:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
        keys.update(d.metadata)
    parts = ", ".join(f"{n} {k}" for k, n in kinds.items())
    return f"{len(corpus)} documents ({parts}); metadata columns: {sorted(keys)[:20]}"


def _close(model: Any) -> None:
    inner = model
    while inner is not None:
        close = getattr(inner, "close", None)
        if callable(close) and type(inner).__name__ == "CachedModel":
            close()
        inner = getattr(inner, "inner", None)


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return obj
    return str(obj)


def _fmt_stats(stats: Any) -> str:
    data = _jsonable(stats)
    if isinstance(data, dict):
        return ", ".join(f"{k} {v}" for k, v in data.items() if isinstance(v, int | float))
    return str(data)


_ = Decimal  # cost figures are Decimal throughout; floats only in the manifest's summary
