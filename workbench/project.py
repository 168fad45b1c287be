"""A project: a folder holding settings, indexes and runs (`<dir>/.workbench/`)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.locking import LockedError
from workbench.core.aio import run_sync
from workbench.core.errors import (
    BudgetExceededError,
    RunError,
    UserError,
    WorkbenchError,
    translate,
)
from workbench.core.events import Event, Listener
from workbench.core.progress import progress_listener
from workbench.core.settings import Settings
from workbench.core.version import __version__
from workbench.engines.registry import engine_info, resolve_engine
from workbench.runs.context import ProjectContext
from workbench.runs.control import RunCancelledError, RunControl
from workbench.runs.corpus import Corpus
from workbench.runs.handle import RunHandle
from workbench.runs.run import Run
from workbench.runs.store import RunStore, find_resumable, now_iso, run_lock

if TYPE_CHECKING:
    from retrieval import HybridIndex
    from retrieval.synthetic_protocol import QueryGenerator
    from subagents.models.messages import Model
    from workbench.ask.answer import Answer
    from workbench.orchestrator.plans import Plan
    from workbench.runs.control import RunControl
    from workbench.runs.handle import RunHandle
    from workbench.triage.api import TriageRun


class Project:
    """Settings, indexes and runs for one piece of work, kept in `<directory>/.workbench/`.

    `model` (optional) is the model the model engine uses instead of building an
    `AnthropicModel` from the settings: a `FunctionModel` for a demo, an `AnthropicModel`
    with its own `base_url`, or a zero-argument factory returning one (called per run).
    """

    def __init__(
        self,
        directory: str | Path = ".",
        settings: Settings | None = None,
        *,
        model: Model | Callable[[], Model] | None = None,
    ) -> None:
        self.dir = Path(directory).expanduser().resolve()
        if self.dir.exists() and not self.dir.is_dir():
            raise UserError(f"project path {self.dir} is a file; give a folder")
        # nothing is created until there is something to keep: a command that fails on bad
        # input leaves no empty project folder behind
        self.wb_dir = self.dir / ".workbench"
        self.runs_dir = self.wb_dir / "runs"
        self.settings = settings or Settings.load(self.wb_dir / "config.toml")
        self.model = model

    def __repr__(self) -> str:
        return f"Project({str(self.dir)!r})"

    # corpus and index ------------------------------------------------------------------
    def corpus(self, path: str | Path) -> Corpus:
        """Load a corpus with this project's settings (speaker roles)."""
        return Corpus.load(
            path,
            roles=self.settings.roles.to_retrieval(),
            max_file_bytes=self.settings.max_file_bytes,
        )

    def index_for(
        self, corpus: Corpus, *, query_generator: QueryGenerator | None = None
    ) -> HybridIndex:
        """The corpus's index; with a model-backed query generator, a separate one."""
        from retrieval import Embedder, HybridIndex
        from retrieval.index import ChunkingConfig

        tag = hashlib.sha256(str(corpus.path.resolve()).encode()).hexdigest()[:10]
        name = f"{corpus.name[:40]}-{tag}"
        if query_generator is not None:
            base = self.wb_dir / "index" / name / "embeddings.sqlite"
            name += "-" + hashlib.sha256(query_generator.name.encode()).hexdigest()[:8]
            _seed_embeddings(base, self.wb_dir / "index" / name / "embeddings.sqlite")
        chunking = ChunkingConfig(
            turns_per_chunk=self.settings.turns_per_chunk, overlap=self.settings.chunk_overlap
        )
        embedder: Any = Embedder()
        if self.settings.executor == "ray":  # index updates encode on the Ray cluster too
            from retrieval.ray_embedder import RayEmbedder

            embedder = RayEmbedder(address=self.settings.ray_address)
        return HybridIndex(
            self.wb_dir / "index" / name,
            embedder=embedder,
            query_generator=query_generator,
            chunking=chunking,
        )

    # runs ----------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        out: list[Run] = []
        if not self.runs_dir.is_dir():
            return out
        for d in sorted(self.runs_dir.iterdir()):
            if (d / "manifest.json").exists():
                out.append(Run(d))
        return out

    def _resumable(self, input_key: str) -> RunStore | None:
        return find_resumable(
            self.runs_dir,
            input_key,
            durable=self.settings.fsync_tasks,
            journal=self.settings.task_store == "journal",
        )

    def injected_model(self) -> Model | None:
        """The model given as `Project(model=...)` (a factory is called), or None."""
        m = self.model
        if m is not None and callable(m) and not hasattr(m, "complete"):
            return m()
        return m  # type: ignore[return-value]

    def resolve_engine(self, engine: str | None, *, model: Model | None = None) -> str:
        """The engine a call runs on (`engines.registry.resolve_engine`): `engine`, else the
        settings', else the model engine when a model is at hand (`model`,
        `Project(model=...)`, or ANTHROPIC_API_KEY)."""

        has_model = model is not None or self.model is not None
        return resolve_engine(engine, self.settings, has_model=has_model)

    def context(self) -> ProjectContext:
        """The parts this project hands to a run and to `ask` (`runs.context.ProjectContext`)."""
        settings = self.settings

        def sandbox(work_dir: Path) -> Any:
            from sandboxes import create_sandbox

            return create_sandbox(work_dir=work_dir, backend=settings.sandbox)

        return ProjectContext(
            dir=self.dir,
            wb_dir=self.wb_dir,
            settings=settings,
            corpus=self.corpus,
            index_for=self.index_for,
            injected_model=self.injected_model,
            has_model=self.model is not None,
            sandbox=sandbox,
        )

    def ask(
        self,
        question: str,
        *,
        corpus: Corpus | str | Path,
        scope: Any = None,
        engine: str | None = None,
        **kwargs: Any,
    ) -> Answer:
        """One question -> an answer whose every sentence cites verbatim evidence.

        `scope`: a document id, a list of ids, or a metadata filter. See `workbench.ask.answer`.
        """
        from workbench.ask.api import ask

        return ask(self, question, corpus=corpus, scope=scope, engine=engine, **kwargs)

    def analyze(
        self,
        corpus: Corpus | str | Path,
        question: str,
        *,
        recipe: str = "themes",
        engine: str | None = None,
        resume: bool = True,
        on_event: Listener | None = None,
        control: RunControl | None = None,
        plan: Plan | dict[str, Any] | None = None,
    ) -> Run:
        """Run a recipe (or a given plan) over a corpus and return the finished Run.

        An unfinished run with the same inputs (corpus content, question, recipe, engine,
        settings) is resumed: its finished tasks are not run again. `control` steers,
        pauses or cancels it from another thread (see `start` for a background run).
        """
        from workbench.orchestrator.pipeline import RECIPES

        question = (question or "").strip()
        if not question:
            raise UserError(
                'the question is empty; say what you want to learn, e.g. -q "What frustrates users?"'
            )
        if recipe not in RECIPES:
            raise UserError(f"unknown recipe {recipe!r}; available: {', '.join(RECIPES)}")
        chosen = self.resolve_engine(engine)
        emit = on_event or progress_listener()
        control = control or RunControl(steering_file=self.settings.steering_file)
        if on_event is None:  # plain and CLI runs: say when steering arrives and applies

            def say(kind: str, data: dict[str, Any]) -> None:
                text = str(data.get("text") or data.get("reason") or "")
                where = f" (at {data['where']})" if data.get("where") else ""
                emit(Event("note", "steering", f"{kind}: {text}{where}".rstrip(": ")))

            control.listeners.append(say)
        t0 = time.perf_counter()
        if not isinstance(corpus, Corpus):
            corpus = self.corpus(corpus)
        t_load = time.perf_counter() - t0
        for w in corpus.warnings:
            emit(Event("warning", "load", w))
        for s in corpus.skipped:
            emit(Event("warning", "load", f"skipped {s.path}: {s.reason}"))
        emit(Event("note", "load", f"{len(corpus)} {corpus.noun} from {corpus.path}"))

        input_key = self._input_key(recipe, question, corpus, chosen)
        # choosing the run (resume one, or make one) and locking it is one step for the whole
        # project: two processes never attach to the same run directory
        with contextlib.ExitStack() as stack:
            with run_lock(self.wb_dir, "runs").hold("choosing a run"):
                store = self._resumable(input_key) if resume else None
                fresh = store is None
                if store is None:
                    store = RunStore.create(self.runs_dir, question)
                lock = run_lock(self.wb_dir, store.run_id)
                try:
                    stack.enter_context(
                        lock.hold(f"workbench analyze, run {store.run_id}", wait=False)
                    )
                except LockedError:
                    raise RunError(
                        f"run {store.run_id} of this analysis is in use by "
                        f"{lock.holder() or 'another process'}; wait for it to finish "
                        "(`workbench runs` shows it), or start a separate run with --new-run",
                        run_id=store.run_id,
                    ) from None
            return self._analyze_locked(
                store, fresh, corpus, question, recipe, chosen, input_key,
                emit, control, plan, t0, t_load,
            )  # fmt: skip

    def _analyze_locked(
        self,
        store: RunStore,
        fresh: bool,
        corpus: Corpus,
        question: str,
        recipe: str,
        chosen: str,
        input_key: str,
        emit: Listener,
        control: RunControl,
        plan: Plan | dict[str, Any] | None,
        t0: float,
        t_load: float,
    ) -> Run:
        if not fresh:
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
                attempts=store.manifest().attempts + 1,
                error=None,  # the last attempt's error is history, not this attempt's
            )
        else:
            store.durable = self.settings.fsync_tasks
            store.journal = self.settings.task_store == "journal"
            store.update_manifest(
                **self._manifest(store, recipe, question, corpus, chosen, input_key)
            )
        emit(Event("run_started", "", f"run {store.run_id}", data={"run_dir": str(store.dir)}))
        from workbench.orchestrator.orchestrate import RunRequest, execute

        request = RunRequest(
            parts=self.context(),
            store=store,
            corpus=corpus,
            question=question,
            recipe=recipe,
            engine=chosen,
            emit=emit,
            control=control,
            plan=plan,
            t0=t0,
            t_load=t_load,
        )
        try:
            run_sync(execute(request))
        except BaseException as e:
            status = "failed"
            if isinstance(e, KeyboardInterrupt | asyncio.CancelledError):
                status = "interrupted"
            elif isinstance(e, RunCancelledError):
                status = "cancelled"
            fields: dict[str, Any] = {"status": status, "error": f"{type(e).__name__}: {e}"}
            if isinstance(e, BudgetExceededError) and request.tracker is not None:
                fields["stopped_by"] = request.tracker.stopped_by or {"cap": "max_tasks"}
            try:
                store.update_manifest(**fields)
            except OSError as record_error:
                # e.g. the disk is full: the run's cause must not be hidden by this one. The
                # manifest still says "running"; with its lock released, `Run.status` reads
                # "interrupted", and the next attempt resumes it
                e.add_note(f"(the run's manifest could not be updated: {record_error})")
            if isinstance(e, WorkbenchError | KeyboardInterrupt):
                raise

            err = translate(e)
            if isinstance(err, RunError) and err.run_id is None:
                err = RunError(f"run {store.run_id} failed: {err}", run_id=store.run_id)
                err.__cause__ = e
            raise err from e
        return Run(store.dir)

    def start(
        self,
        corpus: Corpus | str | Path,
        question: str,
        *,
        recipe: str = "themes",
        engine: str | None = None,
        resume: bool = True,
        on_event: Listener | None = None,
        plan: Plan | dict[str, Any] | None = None,
    ) -> RunHandle:
        """Start `analyze` in the background; steer, pause, review and `wait()` on the handle."""

        handle = RunHandle(RunControl(steering_file=self.settings.steering_file), on_event)
        handle._start(
            lambda: self.analyze(
                corpus,
                question,
                recipe=recipe,
                engine=engine,
                resume=resume,
                on_event=handle._on_event,
                control=handle.control,
                plan=plan,
            )
        )
        return handle

    def triage(
        self,
        tickets: str | Path,
        labels: str | Path,
        *,
        label_column: str = "label",
        group_column: str | None = None,
        text_columns: str | list[str] | None = None,
        engine: str | None = None,
        threshold: float | None = None,
        definitions: Any = None,
        resume: bool = True,
        on_event: Listener | None = None,
        control: RunControl | None = None,
    ) -> TriageRun:
        """Sort every ticket into the team's categories, learned from `labels`.

        Each ticket gets a category, a calibrated confidence and the verbatim quotes that
        decided it; those under `threshold` (default `settings.triage.review_threshold`)
        go to the review queue; then themes within each category, charts, deck, reports.
        `group_column` learns per group (say, per repository). See `workbench.triage`.
        """
        from workbench.triage.api import triage

        return triage(
            self,
            tickets,
            labels,
            label_column=label_column,
            group_column=group_column,
            text_columns=text_columns,
            engine=engine,
            threshold=threshold,
            definitions=definitions,
            resume=resume,
            on_event=on_event,
            control=control,
        )

    def start_triage(self, tickets: str | Path, labels: str | Path, **kwargs: Any) -> RunHandle:
        """`triage` in the background: review its queue in the panel, `wait()` for the run."""

        on_event = kwargs.pop("on_event", None)
        handle = RunHandle(RunControl(steering_file=self.settings.steering_file), on_event)
        handle._start(
            lambda: self.triage(
                tickets, labels, on_event=handle._on_event, control=handle.control, **kwargs
            )
        )
        return handle

    def _input_key(self, recipe: str, question: str, corpus: Corpus, engine: str) -> str:
        data: dict[str, Any] = {
            "recipe": recipe,
            "question": question,
            "corpus": corpus.content_hash,
            "engine": engine,
            "analysis": self.settings.analysis.model_dump(),
            "roles": self.settings.roles.model_dump(),
        }
        if engine_info(engine).uses_model:
            data["models"] = self.settings.models.model_dump()
        blob = json.dumps(data, sort_keys=True)
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

        from workbench.orchestrator.pipeline import ENGINE_NOTES

        return {
            "run_id": store.run_id,
            "status": "running",
            "started_at": now_iso(),
            "attempts": 1,
            "recipe": recipe,
            "question": question,
            "engine": engine,
            "engine_note": ENGINE_NOTES.get(engine, "Produced by the model engine."),
            "models": {},
            "input_key": input_key,
            "corpus": {"path": str(corpus.path), "name": corpus.name, "hash": corpus.content_hash},
            "documents": len(corpus),
            "skipped": [s.model_dump() for s in corpus.skipped],
            "warnings": corpus.warnings,
            "speaker_roles": corpus.interviewer_summary(),
            "other_language": corpus.other_language,
            "settings": self.settings.model_dump(mode="json"),
            "versions": {"research-workbench": __version__, "python": platform.python_version()},
            "cost_usd": 0.0,
        }


def _seed_embeddings(source: Path, target: Path) -> None:
    """A new index of a corpus starts from the embeddings its other index already has.

    The cache is content-addressed (model + text), so the same chunks are not embedded
    twice just because their synthetic queries come from another generator.
    """
    import sqlite3

    if target.exists() or not source.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(str(source))
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
