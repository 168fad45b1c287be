"""`ask`: a question about a corpus answered with verbatim quotes, by the offline
answerer (`ask.offline`) or the model engine (`ask.model`); `ask.answer` holds the
answer's types and the citation gate both pass through."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.ask.answer import Answer, Scope, verify_answer
from workbench.ask.offline import OfflineAsker, OfflineAskSettings
from workbench.core.errors import UserError
from workbench.core.events import Event, Listener
from workbench.core.progress import IndexProgress, progress_listener
from workbench.engines.registry import engine_info, resolve_engine
from workbench.runs.budgets import MeteredModel, metered
from workbench.runs.context import HasContext, ProjectContext, context_of
from workbench.runs.corpus import Corpus

if TYPE_CHECKING:
    from retrieval import HybridIndex
    from subagents.models.messages import Model
    from workbench.runs.corpus import Corpus


# -- public entry point ----------------------------------------------------------------


def ask(
    project: ProjectContext | HasContext,
    question: str,
    *,
    corpus: Corpus | str | Any,
    scope: Scope | str | Sequence[str] | Mapping[str, Any] | None = None,
    engine: str | None = None,
    index: HybridIndex | None = None,
    settings: OfflineAskSettings | None = None,
    model: Model | None = None,
    on_event: Listener | None = None,
) -> Answer:
    """Answer `question` from `corpus` (a Corpus or a path) within `scope`; see the module doc.

    Progress (indexing, answering) goes to `on_event`, else to progress bars or log
    lines on stderr (`workbench.core.progress`).

    `index` reuses an index already built for the corpus (else the project's is updated).
    The engine is chosen as `Project.analyze` chooses it (`Project.resolve_engine`). The
    model engine uses `model` (tests pass a ScriptedModel), else the project's model
    stack (`Project(model=...)`, else one built from the settings); either way its calls
    go through a `MeteredModel`: the project's budgets apply and every call is traced.
    """

    parts = context_of(project)
    question = (question or "").strip()
    if not question:
        raise UserError(
            'the question is empty; ask something, e.g. "What did they decide about the price?"'
        )
    chosen = resolve_engine(engine, parts.settings, has_model=model is not None or parts.has_model)
    if not isinstance(corpus, Corpus):
        corpus = parts.corpus(corpus)
    sc = Scope.of(scope)
    docs = corpus.by_id()
    if sc.doc_ids:
        unknown = [d for d in sc.doc_ids if d not in docs]
        if unknown:
            known = ", ".join(sorted(docs)[:8])
            raise UserError(
                f"scope names documents not in the corpus: {unknown}; known ids include {known}"
            )
    emit = on_event or progress_listener()
    repairs: list[str] = []
    opened = index is None
    if index is None:
        t_index = time.perf_counter()
        meter = IndexProgress(emit, f"{len(corpus)} {corpus.noun}").start()
        index = parts.index_for(corpus)
        stats = index.update(corpus.documents, progress=meter)
        meter.finish(
            f"{stats.added_chunks} chunks added, {stats.unchanged_docs} documents unchanged "
            f"({time.perf_counter() - t_index:.1f}s)"
        )
        repairs = [f"index: {r}" for r in index.repairs]
    t0 = time.perf_counter()
    emit(Event("stage_started", "answer", f"the {chosen} engine answers from {sc.describe()}"))
    try:
        if engine_info(chosen).uses_model:
            from workbench.ask.model import ask_with_model

            metered = _configured_model(parts, model)
            answer = ask_with_model(question, sc, corpus, index, metered, parts)
        else:
            cache = parts.wb_dir / "ask-embeddings.sqlite"
            asker = OfflineAsker(index, docs, settings, cache_path=cache)
            try:
                answer = asker.ask(question, sc)
            finally:
                asker.close()
    finally:
        if opened:
            index.close()  # the index this call opened: its files are released
    answer = verify_answer(answer, docs)
    answer.notes[:0] = repairs  # said, not silent: the answer came from a repaired index
    answer.latency_s = round(time.perf_counter() - t0, 3)
    said = f"{len(answer.sentences)} sentences citing {len(answer.evidence)} quotes"
    emit(Event("stage_done", "answer", f"{said} in {answer.latency_s:.1f}s"))
    return answer


def _configured_model(
    project: ProjectContext | HasContext, model: Model | None = None, *, trace: str = "ask"
) -> Model:
    """A model for `ask`, the judge and the question proposer, metered as a run's model is.

    `model` when given (used as it is), else the project's stack as `analyze` builds it:
    `Project(model=...)` or an `AnthropicModel` from `settings.models` (which needs
    ANTHROPIC_API_KEY), under the response cache. Then a `MeteredModel`: the project's
    budgets (`settings.budgets`) cap its calls and each call is a span appended to
    `.workbench/traces/<trace>.jsonl`. A model that is already metered is returned as is.
    """

    if isinstance(model, MeteredModel):
        return model
    parts = context_of(project)
    if model is None:
        injected = parts.injected_model()
        missing = parts.settings.models.missing()
        if injected is None and missing:
            raise UserError(
                f"the model engine needs an API key: {missing} in the environment (or "
                "Project(model=...), or a local model's base_url); set it or use --engine offline"
            )
        from workbench.engines.model_stack import build_model

        model = build_model(parts.settings, parts.wb_dir / "cache.sqlite", injected)
    return metered(model, parts.settings.budgets, parts.wb_dir / "traces" / f"{trace}.jsonl")
