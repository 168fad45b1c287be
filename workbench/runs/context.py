"""What every stage of a running plan gets: the run's store, corpus, settings, index,
engine, control, budget and review queue (built by `orchestrator.orchestrate`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from retrieval import Embedder, HybridIndex
    from workbench.core.events import Listener
    from workbench.core.settings import Settings
    from workbench.runs.budgets import BudgetTracker
    from workbench.runs.control import RunControl
    from workbench.runs.corpus import Corpus
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
    engine: str = "offline"
    engine_note: str = ""
    engine_short: str = ""
    runner: Any = None  # the engine object (OfflineEngine / ModelEngine)
    control: RunControl | None = None
    budget: BudgetTracker | None = None
    review: ReviewQueue | None = None
    cost_usd: Callable[[], Decimal] = field(default=lambda: Decimal(0))
    stats: dict[str, FanOutStats] = field(default_factory=dict)
