"""`ask`'s model path runs on the engine and fan-out of `analyze`, not an orchestrator of its
own: the task budget caps its searches, a failed search is recorded while the others go on,
finished searches are kept and an interrupted `ask` resumes them, and the settings' per-task
caps reach its sub-agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from subagents.models.messages import ModelRequest
from subagents.testing.models import FunctionModel, final_output, tool_call
from workbench.core.settings import Budgets, Settings
from workbench.project import Project

from .conftest import Indexed

pytestmark = pytest.mark.slow
QUESTION = "What did they say about the remote, the price and the team?"
SUBS = ["what about the remote", "what about the price", "who is in the team"]


class Script:
    """Planner: three sub-questions; analysts: one verbatim finding each; writer: cites all.
    `fail`: the sub-question whose analyst's model call fails."""

    def __init__(self, indexed: Indexed, fail: str | None = None) -> None:
        self.segments = indexed.corpus.by_id()["ES2002a"].segments
        self.fail = fail
        self.calls: list[str] = []
        self.model = FunctionModel(self.respond)

    def searched(self) -> list[str]:
        return [c for c in self.calls if c.startswith("analyst:")]

    def respond(self, request: ModelRequest) -> Any:
        prompt = request.system[-1].text
        if "You are the planner" in prompt:
            self.calls.append("planner")
            stage = {"id": "a", "subagent": "interview-analyst", "goal": "g", "sub_questions": SUBS}
            return final_output({"rationale": "three parts", "stages": [stage]})
        if "You write the answer" in prompt:
            self.calls.append("writer")
            return final_output({"sentences": [{"text": "They talked.", "evidence": [1, 2, 3]}]})
        task = request.messages[0].content[-1].text
        sub = next(s for s in SUBS if s in task)
        self.calls.append(f"analyst:{sub}")
        if sub == self.fail:
            raise RuntimeError("the analyst's model call failed")
        seg = self.segments[10 + SUBS.index(sub)]
        ev = {"doc_id": "ES2002a", "segment_id": seg.id, "quote": seg.text[:20]}
        return final_output({"findings": [{"claim": sub, "confidence": 0.8, "evidence": [ev]}]})


def _ask(project: Project, indexed: Indexed, script: Script) -> Any:
    return project.ask(
        QUESTION, corpus=indexed.corpus, scope=["ES2002a"], engine="model",
        model=script.model, index=indexed.index,
    )  # fmt: skip


def test_the_task_budget_caps_asks_searches_and_a_second_ask_resumes_them(
    indexed: Indexed, tmp_path: Path
) -> None:
    capped = Project(tmp_path / "p", Settings(budgets=Budgets(max_tasks=1)))
    first = Script(indexed)
    a = _ask(capped, indexed, first)
    assert first.searched() == [f"analyst:{SUBS[0]}"]  # one task may start: the first
    assert any("2 did not start" in n for n in a.notes)
    assert a.found and len(a.evidence) == 1

    again = Project(tmp_path / "p")  # the same project, no cap: the rest of the searches
    second = Script(indexed)
    b = _ask(again, indexed, second)
    assert second.searched() == [f"analyst:{s}" for s in SUBS[1:]]  # the first is kept
    assert any("1 of 3 searches reused" in n for n in b.notes)
    assert [c.quote for c in b.evidence] == [
        indexed.corpus.by_id()["ES2002a"].segments[10 + i].text[:20] for i in range(3)
    ]
    assert b.tokens["input"] > 0  # what this call spent, not the reused search


def test_a_failed_search_is_recorded_and_the_others_answer(
    indexed: Indexed, tmp_path: Path
) -> None:
    script = Script(indexed, fail=SUBS[1])
    a = _ask(Project(tmp_path / "p"), indexed, script)
    assert sorted(script.searched()) == sorted(f"analyst:{s}" for s in SUBS)
    assert any("1 of 3 searches failed" in n and "model call failed" in n for n in a.notes)
    assert a.found and len(a.evidence) == 2
    # the failure is not kept as finished: the next ask tries that search again
    retry = Script(indexed)
    b = _ask(Project(tmp_path / "p"), indexed, retry)
    assert retry.searched() == [f"analyst:{SUBS[1]}"]
    assert len(b.evidence) == 3


def test_the_settings_per_task_caps_reach_asks_sub_agents(indexed: Indexed, tmp_path: Path) -> None:
    turns: list[int] = []

    def searching_forever(request: ModelRequest) -> Any:
        turns.append(len(request.messages))  # 1 on an agent's first step, 3 on its second
        return [tool_call("search", {"query": "remote control", "k": 2})]

    model = FunctionModel(searching_forever)
    project = Project(tmp_path / "p", Settings(budgets=Budgets(max_steps_per_task=2)))
    a = project.ask(
        "What about the remote?", corpus=indexed.corpus, scope=["ES2002a"], engine="model",
        model=model, index=indexed.index,
    )  # fmt: skip
    assert not a.found
    # the planner and each search stop after 2 steps, below their specs' own caps
    assert turns and max(turns) == 3
