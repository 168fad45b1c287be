"""One engine contract (`runs.engine`): the registry builds both engines by name, they
take a typed task and give a result built by one function, in the shape the task store
kept before the contract (so old runs resume)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from retrieval import Embedder
from tests.ask.conftest import Indexed
from workbench.core.errors import UserError
from workbench.core.settings import Settings
from workbench.engines.offline import OfflineEngine
from workbench.engines.registry import ENGINES, build_engine, engine_info
from workbench.runs.engine import AnalysisResult, AnalysisTask
from workbench.runs.fanout import Task

QUESTION = "What do they say about the remote control's design?"


def _build(name: str, indexed: Indexed, **kw: Any) -> Any:
    return build_engine(
        name,
        Settings(),
        index=indexed.index,
        embedder=Embedder(),
        corpus=indexed.corpus,
        docs=indexed.corpus.by_id(),
        **kw,
    )


def test_the_registry_builds_engines_by_name_and_refuses_others(indexed: Indexed) -> None:
    engine = _build("offline", indexed)
    assert isinstance(engine, OfflineEngine) and not engine.uses_model
    assert engine_info("model").uses_model and set(ENGINES) == {"offline", "model"}
    with pytest.raises(UserError, match="'offline', 'model'"):
        _build("psychic", indexed)
    with pytest.raises(UserError, match="needs a model"):
        _build("model", indexed)  # no model handed in


def test_an_analyse_task_result_is_typed_and_keeps_the_stored_shape(indexed: Indexed) -> None:
    engine = _build("offline", indexed)
    doc_id = next(iter(indexed.corpus.by_id()))
    payload = AnalysisTask(doc_ids=[doc_id], question=QUESTION).model_dump()
    task = Task(
        key="analyze-x", stage="analyze", label="x", payload=payload, steering=("be brief",)
    )
    result = engine.worker.analyze_sync(task)
    typed = AnalysisResult.model_validate(result)
    assert typed.doc_ids == [doc_id] and typed.steering == ["be brief"] and typed.findings
    # what the offline engine stored before the contract, key for key
    assert set(result) == {"doc_ids", "doc_id", "findings", "abstained", "steering", "finished_at"}


def test_a_task_without_documents_is_refused() -> None:
    with pytest.raises(ValidationError):
        AnalysisTask.model_validate({"doc_ids": [], "question": QUESTION})
