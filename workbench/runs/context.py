"""What every stage of a running plan gets: the run's store, corpus, settings, index,
engine, control, budget and review queue (built by `orchestrator.orchestrate`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from workbench.runs.store import find_resumable

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from retrieval import Embedder, HybridIndex
    from subagents.models.messages import Model
    from workbench.core.events import Listener
    from workbench.core.settings import Settings
    from workbench.runs.budgets import BudgetTracker
    from workbench.runs.control import RunControl
    from workbench.runs.corpus import Corpus
    from workbench.runs.engine import Engine
    from workbench.runs.fanout import FanOutStats
    from workbench.runs.review import ReviewQueue
    from workbench.runs.store import RunStore


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
    runner: Engine  # the engine (`runs.engine.Engine`), built by `engines.registry`
    engine: str = "offline"
    engine_note: str = ""
    engine_short: str = ""
    control: RunControl | None = None
    sandbox: Callable[[Path], Any] | None = None  # work_dir -> a sandbox (a context manager)
    budget: BudgetTracker | None = None
    review: ReviewQueue | None = None
    cost_usd: Callable[[], Decimal] = field(default=lambda: Decimal(0))
    stats: dict[str, FanOutStats] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectContext:
    """The parts `Project` hands to a run and to `ask`: nothing below `Project` looks them
    up on it. `Project.context()` builds one.

    - `dir`: the project folder (its sub-agent specs); `wb_dir`: its `.workbench/` (caches,
      traces, indexes); `settings`: the project's settings.
    - `corpus(path)`: a corpus loaded with the project's settings.
    - `index_for(corpus, query_generator=None)`: the corpus's index.
    - `injected_model()`: the model given as `Project(model=...)` (a factory is called),
      or None; `has_model` says whether one was given, without calling a factory.
    - `sandbox(work_dir)`: a new sandbox of the backend the settings name (`settings.sandbox`).
    - `runs_dir`: where its runs are kept; `resumable(input_key)`: the unfinished run with
      those inputs, to resume (`runs.store.find_resumable`).
    """

    dir: Path
    wb_dir: Path
    settings: Settings
    corpus: Callable[[str | Path], Corpus]
    index_for: Callable[..., HybridIndex]
    injected_model: Callable[[], Model | None]
    has_model: bool
    sandbox: Callable[[Path], Any]

    @property
    def runs_dir(self) -> Path:
        """Where the project's runs are kept (`.workbench/runs`)."""
        return self.wb_dir / "runs"

    def resumable(self, input_key: str) -> RunStore | None:
        """The newest unfinished run of the project started with `input_key`, or None."""
        return find_resumable(
            self.runs_dir,
            input_key,
            durable=self.settings.fsync_tasks,
            journal=self.settings.task_store == "journal",
        )


class HasContext(Protocol):
    """Anything that hands out a `ProjectContext` (a `Project`)."""

    def context(self) -> ProjectContext: ...


def context_of(parts: ProjectContext | HasContext) -> ProjectContext:
    """`parts` itself, or the context a project hands out."""
    return parts if isinstance(parts, ProjectContext) else parts.context()
