"""The engines by name, and the one resolver `analyze`, `ask`, `triage` and `eval` use.

An unknown name is a `UserError` that lists the choices; the model engine without a model
at hand (no `Project(model=...)`, no API key, no local endpoint) is one that says how to
get one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.core.errors import UserError

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from retrieval import Embedder, HybridIndex
    from retrieval.types import Document
    from subagents.models.messages import Model
    from workbench.core.settings import Settings
    from workbench.runs.corpus import Corpus
    from workbench.runs.engine import Engine


@dataclass(frozen=True)
class EngineInfo:
    name: str
    description: str
    uses_model: bool  # needs a language model (built before the index: query writing)


ENGINES: dict[str, EngineInfo] = {
    "offline": EngineInfo("offline", "no language model: deterministic sub-agents", False),
    "model": EngineInfo(
        "model",
        "sub-agents on a language model (Anthropic, or an OpenAI-compatible endpoint)",
        True,
    ),
}


def engine_choices() -> str:
    return ", ".join(repr(n) for n in ENGINES)


def check_engine(name: str) -> str:
    """`name` when it is a known engine, else a UserError listing the choices."""
    if name not in ENGINES:
        raise UserError(f"unknown engine {name!r}; choose one of {engine_choices()}")
    return name


def resolve_engine(engine: str | None, settings: Settings, *, has_model: bool) -> str:
    """The engine a call runs on: `engine`, else the settings', else the model engine when
    a model is at hand (`has_model`: one passed in or `Project(model=...)`; else an API key
    or a local endpoint in the settings)."""
    chosen = engine or settings.engine
    if chosen is None:
        chosen = "model" if has_model else settings.resolved_engine()
    check_engine(chosen)
    if ENGINES[chosen].uses_model and not has_model:
        missing = settings.models.missing()
        if missing:
            raise UserError(
                f"the model engine needs an API key: {missing} (or pass Project(model=...), "
                'or point the settings at a local model: [models] provider = "openai-compatible" '
                "and base_url, or --model-url); without one, use --engine offline"
            )
    return chosen


def engine_info(name: str) -> EngineInfo:
    return ENGINES[check_engine(name)]


def build_engine(
    name: str,
    settings: Settings,
    *,
    index: HybridIndex,
    embedder: Embedder,
    corpus: Corpus,
    docs: dict[str, Document],
    model: Model | None = None,
    specs: dict[str, Any] | None = None,
    tracer: Tracer | None = None,
) -> Engine:
    """The engine `name` for one run: the model engine on `model` (the run's metered
    model) with the sub-agent `specs`; the offline engine on the index and embedder."""
    if engine_info(name).uses_model:
        from workbench.engines.model import ModelEngine

        if model is None or specs is None:
            raise UserError(f"the {name} engine needs a model and the sub-agent specs")
        return ModelEngine(settings, model, specs, index, docs, tracer=tracer)
    from workbench.engines.offline import OfflineEngine, skipped_documents

    return OfflineEngine(
        settings,
        index,
        embedder,
        docs,
        corpus_path=str(corpus.path),
        skip=skipped_documents(corpus),
    )
