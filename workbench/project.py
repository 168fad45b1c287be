"""A project: a folder holding settings, indexes and runs (`<dir>/.workbench/`)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.corpus import Corpus
from workbench.errors import UserError, WorkbenchError
from workbench.events import Event, Listener, LogPrinter
from workbench.run import Run
from workbench.settings import Settings
from workbench.store import RunStore, now_iso

if TYPE_CHECKING:
    from retrieval import HybridIndex

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, also inside a running loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:  # re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=target, name="workbench-run")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class Project:
    """Settings, indexes and runs for one piece of work, kept in `<directory>/.workbench/`."""

    def __init__(self, directory: str | Path = ".", settings: Settings | None = None) -> None:
        self.dir = Path(directory).expanduser().resolve()
        if self.dir.exists() and not self.dir.is_dir():
            raise UserError(f"project path {self.dir} is a file; give a folder")
        self.wb_dir = self.dir / ".workbench"
        self.wb_dir.mkdir(parents=True, exist_ok=True)
        self.runs_dir = self.wb_dir / "runs"
        self.runs_dir.mkdir(exist_ok=True)
        self.settings = settings or Settings.load(self.wb_dir / "config.toml")

    def __repr__(self) -> str:
        return f"Project({str(self.dir)!r})"

    # corpus and index ------------------------------------------------------------------
    def corpus(self, path: str | Path) -> Corpus:
        return Corpus.load(path)

    def index_for(self, corpus: Corpus) -> HybridIndex:
        from retrieval import Embedder, HybridIndex

        tag = hashlib.sha256(str(corpus.path.resolve()).encode()).hexdigest()[:10]
        return HybridIndex(self.wb_dir / "index" / f"{corpus.name[:40]}-{tag}", embedder=Embedder())

    # runs ----------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        out = []
        for d in sorted(self.runs_dir.iterdir()):
            if (d / "manifest.json").exists():
                out.append(Run(d))
        return out

    def _resumable(self, input_key: str) -> RunStore | None:
        for d in sorted(self.runs_dir.iterdir(), reverse=True):
            store = RunStore(d)
            try:
                m = store.read_manifest()
            except UserError:
                continue
            if m.get("input_key") == input_key and m.get("status") != "complete":
                return store
        return None

    def analyze(
        self,
        corpus: Corpus | str | Path,
        question: str,
        *,
        recipe: str = "themes",
        engine: str | None = None,
        resume: bool = True,
        on_event: Listener | None = None,
    ) -> Run:
        """Run a recipe over a corpus and return the finished Run.

        An unfinished run with the same inputs (corpus content, question, recipe,
        settings) is resumed: its finished tasks are not run again.
        """
        from workbench.pipeline import RECIPES

        question = (question or "").strip()
        if not question:
            raise UserError(
                'the question is empty; say what you want to learn, e.g. -q "What frustrates users?"'
            )
        if recipe not in RECIPES:
            raise UserError(f"unknown recipe {recipe!r}; available: {', '.join(RECIPES)}")
        chosen = engine or self.settings.engine or "offline"
        if chosen not in ("offline", "model"):
            raise UserError(f"unknown engine {chosen!r}; use 'offline' or 'model'")
        if chosen == "model":
            raise UserError(
                "the model engine is not available in this version of research-workbench; "
                "use --engine offline"
            )
        emit = on_event or LogPrinter()
        t0 = time.perf_counter()
        if not isinstance(corpus, Corpus):
            corpus = Corpus.load(corpus)
        t_load = time.perf_counter() - t0
        for w in corpus.warnings:
            emit(Event("warning", "load", w))
        for s in corpus.skipped:
            emit(Event("warning", "load", f"skipped {s.path}: {s.reason}"))
        emit(Event("note", "load", f"{len(corpus)} {corpus.noun} from {corpus.path}"))

        input_key = self._input_key(recipe, question, corpus, chosen)
        store = self._resumable(input_key) if resume else None
        if store is not None:
            emit(
                Event(
                    "note",
                    "run",
                    f"resuming run {store.run_id} "
                    f"({len(store.finished_tasks())} tasks already finished)",
                )
            )
            store.update_manifest(
                status="running",
                resumed_at=now_iso(),
                attempts=int(store.read_manifest().get("attempts", 1)) + 1,
            )
        else:
            store = RunStore.create(self.runs_dir, question)
            store.update_manifest(
                **self._manifest(store, recipe, question, corpus, chosen, input_key)
            )
        try:
            return self._execute(store, corpus, question, recipe, chosen, emit, t_load, t0)
        except BaseException as e:
            status = (
                "interrupted"
                if isinstance(e, KeyboardInterrupt | asyncio.CancelledError)
                else "failed"
            )
            store.update_manifest(status=status, error=f"{type(e).__name__}: {e}")
            if isinstance(e, WorkbenchError | KeyboardInterrupt):
                raise
            raise WorkbenchError(f"run {store.run_id} failed: {type(e).__name__}: {e}") from e

    def _execute(
        self,
        store: RunStore,
        corpus: Corpus,
        question: str,
        recipe: str,
        engine: str,
        emit: Listener,
        t_load: float,
        t0: float,
    ) -> Run:
        from retrieval import Embedder
        from workbench.pipeline import ENGINE_NOTES, RunContext, plan_for, run_themes
        from workbench.tracing import make_tracer

        store.write_json(
            "plan.json",
            {
                "approved_at": now_iso(),
                "autonomy": self.settings.autonomy,
                "plans": [plan_for(recipe, corpus)],
            },
        )
        t1 = time.perf_counter()
        index = self.index_for(corpus)
        emit(Event("stage_started", "index", f"indexing {len(corpus)} {corpus.noun}"))
        stats = index.update(corpus.documents)
        t_index = time.perf_counter() - t1
        emit(Event("stage_done", "index", f"{_fmt_stats(stats)} in {t_index:.1f}s"))
        tracer, provider = make_tracer(store.dir / "trace.jsonl")
        ctx = RunContext(
            store=store,
            corpus=corpus,
            question=question,
            settings=self.settings,
            index=index,
            embedder=Embedder(),
            emit=emit,
            tracer=tracer,
            engine=engine,
        )
        t2 = time.perf_counter()
        with tracer.start_as_current_span(f"run {recipe}") as span:
            span.set_attribute("workbench.run_id", store.run_id)
            span.set_attribute("workbench.engine", engine)
            result = run_sync(run_themes(ctx))
        provider.shutdown()
        t_total = time.perf_counter() - t0
        store.update_manifest(
            status="complete",
            finished_at=now_iso(),
            findings=result["findings"],
            themes=result["themes"],
            outputs=result["outputs"],
            cost_usd=0.0,
            tokens={"input": 0, "output": 0},
            tasks=result["analyze"],
            timings_s={
                "load": round(t_load, 3),
                "index": round(t_index, 3),
                "analysis_and_exports": round(time.perf_counter() - t2, 3),
                "total": round(t_total, 3),
            },
            index=_jsonable(stats),
        )
        emit(
            Event(
                "run_done", "", f"run written to {store.dir} ({ENGINE_NOTES[engine].split(':')[0]})"
            )
        )
        return Run(store.dir)

    def _input_key(self, recipe: str, question: str, corpus: Corpus, engine: str) -> str:
        blob = json.dumps(
            {
                "recipe": recipe,
                "question": question,
                "corpus": corpus.content_hash,
                "engine": engine,
                "analysis": self.settings.analysis.model_dump(),
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def _manifest(
        self,
        store: RunStore,
        recipe: str,
        question: str,
        corpus: Corpus,
        engine: str,
        input_key: str,
    ) -> dict[str, Any]:
        import platform

        from workbench import __version__
        from workbench.pipeline import ENGINE_NOTES

        return {
            "run_id": store.run_id,
            "status": "running",
            "started_at": now_iso(),
            "attempts": 1,
            "recipe": recipe,
            "question": question,
            "engine": engine,
            "engine_note": ENGINE_NOTES[engine],
            "models": {},
            "input_key": input_key,
            "corpus": {"path": str(corpus.path), "name": corpus.name, "hash": corpus.content_hash},
            "documents": len(corpus),
            "skipped": [s.model_dump() for s in corpus.skipped],
            "warnings": corpus.warnings,
            "settings": self.settings.model_dump(mode="json"),
            "versions": {"research-workbench": __version__, "python": platform.python_version()},
            "cost_usd": 0.0,
        }


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
