"""`Project(model=...)` drives `ask` as it drives `analyze`; ask's model calls are metered.

Before: `ask` ignored the project's model (it answered offline) and `engine="model"`
then demanded an API key; its model calls skipped `MeteredModel`, so no budget capped
them and no span recorded them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from subagents.testing.models import FunctionModel, abstain
from workbench.core.errors import BudgetExceededError
from workbench.core.settings import Budgets, Settings
from workbench.project import Project

from .conftest import Indexed

pytestmark = pytest.mark.slow
QUESTION = "What is the boiling point of nitrogen?"


def _abstaining() -> FunctionModel:
    """Planner and analysts abstain: two or more calls, an answer that found nothing."""
    return FunctionModel(lambda request: abstain("nothing about nitrogen here"))


def _chat_spans(project: Project) -> list[dict[str, Any]]:
    path = project.wb_dir / "traces" / "ask.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if r["attributes"].get("gen_ai.operation.name") == "chat"]


def test_ask_uses_the_projects_model_like_analyze(indexed: Indexed, tmp_path: Path) -> None:
    model = _abstaining()
    project = Project(tmp_path / "p", model=model)
    answer = project.ask(QUESTION, corpus=indexed.corpus, scope=["ES2002a"], index=indexed.index)
    assert answer.engine == "model" and model.calls  # not silently offline
    assert not answer.found
    # every call of the model engine is traced, as a run's calls are
    assert len(_chat_spans(project)) == len(model.calls)

    # engine="model" needs no API key when the project has a model (a factory here)
    factory_model = _abstaining()
    by_factory = Project(tmp_path / "f", model=lambda: factory_model)
    answer = by_factory.ask(
        QUESTION, corpus=indexed.corpus, scope=["ES2002a"], engine="model", index=indexed.index
    )
    assert answer.engine == "model" and factory_model.calls


@pytest.mark.parametrize("how", ["project", "argument"])
def test_the_projects_budgets_cap_the_model_path_of_ask(
    indexed: Indexed, tmp_path: Path, how: str
) -> None:
    model = _abstaining()
    settings = Settings(budgets=Budgets(max_tokens=1))
    if how == "project":
        project = Project(tmp_path / "p", settings, model=model)
        kwargs: dict[str, Any] = {}
    else:
        project = Project(tmp_path / "p", settings)
        kwargs = {"model": model, "engine": "model"}
    with pytest.raises(BudgetExceededError, match="token budget"):
        project.ask(
            QUESTION, corpus=indexed.corpus, scope=["ES2002a"], index=indexed.index, **kwargs
        )
    assert len(model.calls) == 1  # the planner's call spent the budget; nothing after it
    assert len(_chat_spans(project)) == 1


def test_the_offline_default_stays_without_a_model(indexed: Indexed, tmp_path: Path) -> None:
    answer = Project(tmp_path / "p").ask(
        "What is the project about?", corpus=indexed.corpus, scope=["ES2002a"], index=indexed.index
    )
    assert answer.engine == "offline" and answer.found
