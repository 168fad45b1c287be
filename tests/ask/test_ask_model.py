"""The model engine of `ask`, the rubric judge and proposed questions, driven by fakes."""

from __future__ import annotations

from typing import Any

import pytest

from subagents.models.messages import ModelRequest
from subagents.testing.models import FunctionModel, ScriptedModel, abstain, final_output, tool_call
from workbench.ask.api import ask
from workbench.evaluation.golden import GoldenItem
from workbench.evaluation.judge import RubricJudge, propose_questions

from .conftest import Indexed

pytestmark = pytest.mark.slow


def _role(request: ModelRequest) -> str:
    prompt = request.system[-1].text
    for key, role in (
        ("You are the planner", "planner"),
        ("You analyse one conversation", "analyst"),
        ("You write the answer", "writer"),
        ("You grade an answer", "judge"),
        ("You write test questions", "proposer"),
    ):
        if key in prompt:
            return role
    raise AssertionError(f"unexpected system prompt: {prompt[:80]}")


def _turn(ix: Indexed, n: int) -> Any:
    return ix.corpus.by_id()["ES2002a"].segments[n]


def test_plan_search_write_and_citation_check(indexed: Indexed) -> None:
    real = _turn(indexed, 12)
    calls: list[str] = []

    def fn(request: ModelRequest) -> Any:
        role = _role(request)
        calls.append(role)
        if role == "planner":
            return final_output(
                {
                    "rationale": "two parts",
                    "stages": [
                        {
                            "id": "a",
                            "subagent": "interview-analyst",
                            "goal": "find it",
                            "sub_questions": ["who is in the team", "what is the project"],
                        }
                    ],
                }
            )
        if role == "analyst":
            if len(request.messages) == 1:  # first turn: search within the scope
                return [tool_call("search", {"query": "project team", "k": 3})]
            return final_output(
                {
                    "findings": [
                        {
                            "claim": "They introduced the project.",
                            "confidence": 0.8,
                            "evidence": [
                                {
                                    "doc_id": "ES2002a",
                                    "segment_id": real.id,
                                    "quote": real.text[:25],
                                },
                                {
                                    "doc_id": "ES2002a",
                                    "segment_id": real.id,
                                    "quote": "a quote nobody said",
                                },
                            ],
                        }
                    ]
                }
            )
        assert role == "writer"
        evidence = request.messages[0].content[0]
        assert "untrusted" in evidence.context  # corpus text arrives as data
        return final_output(
            {
                "sentences": [
                    {"text": "The team introduced the project.", "evidence": [1]},
                    {"text": "An invented claim.", "evidence": [2]},
                    {"text": "A claim citing nothing real.", "evidence": [99]},
                ]
            }
        )

    model = FunctionModel(fn)
    a = ask(
        indexed.project, "Who is in the team and what is the project?",
        corpus=indexed.corpus, scope=["ES2002a"], engine="model", model=model, index=indexed.index,
    )  # fmt: skip
    assert calls.count("planner") == 1 and calls.count("analyst") == 4 and calls[-1] == "writer"
    assert a.engine == "model" and a.found
    assert [s.text for s in a.sentences] == ["The team introduced the project."]
    assert [c.quote for c in a.evidence] == [real.text[:25]]
    assert a.evidence[0].start_char is not None
    assert any("not verbatim" in n for n in a.notes)
    assert a.tokens["input"] > 0


def test_model_engine_abstains_when_nothing_found(indexed: Indexed) -> None:
    model = ScriptedModel(
        [
            abstain("the corpus is about meetings"),  # planner
            abstain("nothing about nitrogen"),  # analyst, sub-query 1 (the question itself)
        ]
    )
    a = ask(
        indexed.project, "What is the boiling point of nitrogen?", corpus=indexed.corpus,
        scope=["ES2002a"], engine="model", model=model, index=indexed.index,
    )  # fmt: skip
    model.assert_complete()
    assert not a.found and a.evidence == [] and "no evidence" in a.text


def test_rubric_judge_scores_each_criterion(indexed: Indexed) -> None:
    a = ask(indexed.project, "What is the project about?", corpus=indexed.corpus,
            scope=["ES2002a"], index=indexed.index)  # fmt: skip
    scores = {
        "factual_accuracy": 0.9,
        "citation_accuracy": 1.0,
        "completeness": 0.5,
        "source_quality": 0.8,
        "efficiency": 0.7,
        "rationale": "ok",
    }
    model = ScriptedModel([final_output(scores)])
    judge = RubricJudge(model)
    item = GoldenItem(id="x", question=a.question, reference_answer="A remote control.")
    got = judge.score(item, a, indexed.corpus.by_id())
    assert got == {k: v for k, v in scores.items() if k != "rationale"}
    request = model.calls[0]
    assert a.evidence[0].quote not in request.system[-1].text  # answer is data, not prompt
    assert RubricJudge(ScriptedModel([abstain("cannot judge")])).score(item, a, {}) is None


def test_proposed_questions_keep_only_verbatim_evidence(indexed: Indexed) -> None:
    seg = _turn(indexed, 20)
    model = ScriptedModel(
        [
            final_output(
                {
                    "items": [
                        {
                            "question": "What did they say at turn twenty?",
                            "reference_answer": "Something about the project.",
                            "evidence": [
                                {"doc_id": "ES2002a", "segment_id": seg.id, "quote": seg.text[:20]}
                            ],
                        },
                        {
                            "question": "A question with invented evidence?",
                            "reference_answer": "Invented.",
                            "evidence": [
                                {"doc_id": "ES2002a", "segment_id": seg.id, "quote": "never said"}
                            ],
                        },
                    ]
                }
            )
        ]
    )
    items = propose_questions(
        model, index=indexed.index, docs=indexed.corpus.by_id(), n=2, scope_doc_ids=["ES2002a"]
    )
    assert [i.question for i in items] == ["What did they say at turn twenty?"]
    assert items[0].gold_spans[0].start == 20 and not items[0].approved
