"""What a triage run is handed and what both of its classifiers use: the request (the
project's parts, the run's store, the tickets and labels), the embedding cache in front of
the encoder, and the model engine built from the handed-in parts.

`triage.run` (the run, start to end) and `triage.model` (the model engine's classifier)
both import this module; neither imports the other at module level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from retrieval.types import Document
    from workbench.core.events import Listener
    from workbench.runs.budgets import BudgetTracker
    from workbench.runs.context import ProjectContext
    from workbench.runs.control import RunControl
    from workbench.runs.review import ReviewQueue
    from workbench.runs.store import RunStore
    from workbench.triage.labelled import LabelledSet, LoadedTickets, TextColumns


@dataclass
class TriageRequest:
    parts: ProjectContext  # the project's settings, folders and model (`Project.context()`)
    store: RunStore
    tickets: LoadedTickets
    labelled: LabelledSet
    columns: TextColumns
    engine: str
    threshold: float
    definitions: dict[str, str]
    emit: Listener
    control: RunControl
    t0: float
    tracker: BudgetTracker | None = None
    review: ReviewQueue | None = None
    fit: dict[str, Any] = field(default_factory=dict)
    cost: Any = None


class NoIndex:
    """Triage builds no search index: the engines get this in its place (never searched)."""

    directory = None

    def search(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise RuntimeError("a triage run has no search index")


class CachedEncoder:
    """The project's content-addressed embedding cache in front of the embedder."""

    def __init__(self, embedder: Any, path: Any) -> None:
        from retrieval.embcache import EmbeddingCache

        self.embedder = embedder
        path.parent.mkdir(parents=True, exist_ok=True)
        self.cache = EmbeddingCache(path, str(embedder.name), int(embedder.dimension))

    def encode(self, texts: list[str]) -> Any:
        from retrieval.embcache import embed_with_cache

        vectors, _ = embed_with_cache(
            self.embedder.encode, self.cache, texts, self.embedder.dimension
        )
        return vectors

    def encode_layers(self, texts: list[str]) -> Any:
        """Every layer's pooled states (the classifier's layers view; not cached on disk)."""
        return self.embedder.encode_layers(texts)

    def close(self) -> None:
        self.cache.close()


def triage_encoder(req: TriageRequest) -> CachedEncoder:
    """The MiniLM encoder behind the project's triage embedding cache."""
    from retrieval import Embedder

    return CachedEncoder(Embedder(), req.parts.wb_dir / "triage" / "embeddings.sqlite")


def model_engine(req: TriageRequest, docs: dict[str, Document], tracer: Any) -> Any:
    """`(model, engine, note, short)`: the run's metered model (the handed-in one, else one
    built from the settings) and the model engine on it, with the project's agent specs."""
    from subagents.spec_loader import load_specs
    from workbench.engines.model import ModelEngine
    from workbench.engines.model_stack import build_model
    from workbench.runs.budgets import MeteredModel

    parts, s = req.parts, req.parts.settings
    assert req.tracker is not None
    inner = build_model(s, parts.wb_dir / "cache.sqlite", parts.injected_model())
    model = MeteredModel(inner, req.tracker, run_id=req.store.run_id, tracer=tracer)
    runner = ModelEngine(s, model, load_specs(parts.dir), cast(Any, NoIndex()), docs, tracer=tracer)
    req.store.update_manifest(models=runner.models, engine_note=runner.note)
    return model, runner, runner.note, runner.short
