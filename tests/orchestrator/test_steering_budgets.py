"""Steering mid-run, the USD cap, pause/cancel from another thread, review decisions."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from subagents.models.pricing import PriceTable
from workbench.core.errors import BudgetExceededError
from workbench.core.settings import Budgets, ModelSettings, ReviewSettings, Settings
from workbench.runs.control import RunCancelledError, RunControl

from .conftest import QUESTION
from .modelish import STEER_MARK, ModelLike, function_model

QUIET = {"on_event": lambda e: None}


def _settings(**kw: object) -> Settings:
    return Settings(concurrency=1, models=ModelSettings(cache=False, synthetic_queries=False), **kw)


@pytest.mark.slow
def test_a_steer_message_reaches_later_tasks_only(project_dir: Path, corpus3: Path) -> None:
    import workbench as wb

    responder = ModelLike()
    control = RunControl()
    responder.on_analyst = lambda n: control.steer("Focus on battery life") if n == 1 else None
    project = wb.Project(project_dir, settings=_settings(), model=function_model(responder))
    run = project.analyze(corpus3, QUESTION, engine="model", control=control, **QUIET)
    prompts = responder.analyst_prompts
    assert len(prompts) == 3
    # the message arrived while task 1 was running: task 1 never saw it, tasks 2 and 3 did
    assert STEER_MARK not in prompts[0]
    assert all("Focus on battery life" in p for p in prompts[1:])
    log = [json.loads(x) for x in (run.dir / "steering.jsonl").read_text().splitlines()]
    applied = [r for r in log if r["type"] == "applied"]
    assert [r["id"] for r in log if r["type"] == "message"] == ["s1"]
    assert len(applied) == 1 and applied[0]["where"].startswith("analyze: ")
    assert run.manifest["steering"][0]["applied_where"] == applied[0]["where"]
    tasks = [json.loads(p.read_text()) for p in (run.dir / "tasks").glob("analyze-*.json")]
    assert sorted(len(t["steering"]) for t in tasks) == [0, 1, 1]


@pytest.mark.slow
def test_usd_cap_stops_the_run_with_partial_results(project_dir: Path, corpus3: Path) -> None:
    import workbench as wb

    responder = ModelLike()
    model = function_model(responder, prices=PriceTable())
    # one analyst call costs ~$0.03 here (a whole meeting in the prompt); two exceed $0.04
    settings = _settings(budgets=Budgets(max_usd=0.04))
    project = wb.Project(project_dir, settings=settings, model=model)
    with pytest.raises(BudgetExceededError, match=r"USD budget \(max_usd=0.04"):
        project.analyze(corpus3, QUESTION, engine="model", **QUIET)
    run_dir = next((project_dir / ".workbench" / "runs").iterdir())
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["status"] == "failed" and m["stopped_by"]["cap"] == "max_usd"
    assert float(m["cost_usd_exact"]) >= 0.04
    finished = list((run_dir / "tasks").glob("analyze-*.json"))
    assert 1 <= len(finished) < 3
    partial = json.loads((run_dir / "findings.json").read_text())
    assert partial and m["partial"]["tasks_finished"] == len(finished)
    assert len(model.calls) == len(finished)  # no call was made once the cap was reached


@pytest.mark.slow
def test_pause_resume_and_cancel_from_another_thread(project_dir: Path, corpus3: Path) -> None:
    import workbench as wb

    responder = ModelLike()
    first_task = threading.Event()
    proceed = threading.Event()

    def on_analyst(n: int) -> None:
        if n == 1:
            first_task.set()
            proceed.wait(timeout=60)  # the model "thinks" until the test has paused the run

    responder.on_analyst = on_analyst
    project = wb.Project(project_dir, settings=_settings(), model=function_model(responder))
    handle = project.start(corpus3, QUESTION, engine="model")
    assert first_task.wait(timeout=300)
    handle.pause()
    proceed.set()
    # paused: the running task finishes, no new task starts; we can see it in the events
    while not any(e.kind == "task_done" for e in list(handle.events)):
        handle._done.wait(0.05)
    assert handle.status == "paused" and len(responder.analyst_prompts) == 1
    handle.cancel("enough")
    with pytest.raises(RunCancelledError, match="enough"):
        handle.wait(timeout=120)
    assert handle.status == "cancelled" and len(responder.analyst_prompts) == 1
    m = json.loads((handle_run_dir(handle) / "manifest.json").read_text())
    assert m["status"] == "cancelled"


def handle_run_dir(handle: object) -> Path:
    ev = next(e for e in handle.events if e.kind == "run_started")  # type: ignore[attr-defined]
    return Path(ev.data["run_dir"])


@pytest.mark.slow
def test_review_policy_and_decisions_are_recorded(project_dir: Path, corpus3: Path) -> None:
    import workbench as wb

    responder = ModelLike()
    settings = _settings(review=ReviewSettings(threshold=0.6, policy="reject"))
    project = wb.Project(project_dir, settings=settings, model=function_model(responder))
    # the first finding of each meeting has confidence 0.5 < 0.6: the batch policy rejects it
    run = project.analyze(corpus3, QUESTION, engine="model", **QUIET)
    queue = json.loads((run.dir / "review_queue.json").read_text())
    decisions = [json.loads(x) for x in (run.dir / "reviews.jsonl").read_text().splitlines()]
    assert len(queue["items"]) == 3 and {d["by"] for d in decisions} == {"policy:reject"}
    rejected = {d["finding_id"] for d in decisions}
    shown = {
        r["finding_id"] for r in json.loads((run.dir / "report_spec.json").read_text())["findings"]
    }
    assert len(shown) == 6 and not shown & rejected
    assert run.manifest["reviews"] == {"queued": 3, "decisions": 3}


@pytest.mark.slow
def test_a_person_reviews_low_confidence_findings_and_synthesis_uses_it(
    project_dir: Path, corpus3: Path
) -> None:
    import workbench as wb

    responder = ModelLike()
    settings = _settings(review=ReviewSettings(threshold=0.6, policy="wait"))
    project = wb.Project(project_dir, settings=settings, model=function_model(responder))
    queued = threading.Event()
    handle = project.start(
        corpus3,
        QUESTION,
        engine="model",
        on_event=lambda e: queued.set() if e.kind == "review_queued" else None,
    )
    assert queued.wait(timeout=300)
    assert "theme-synthesizer" not in responder.calls  # synthesis waits for the review
    a, b, c = sorted(handle.review.pending(), key=lambda i: i.doc_id)
    handle.review.accept(a.finding_id)
    handle.review.reject(b.finding_id)
    handle.review.edit(c.finding_id, "The team wants a remote that is easy to use")
    run = handle.wait(timeout=300)
    claims = {
        r["finding_id"]: r["claim"]
        for r in json.loads((run.dir / "report_spec.json").read_text())["findings"]
    }
    assert a.finding_id in claims and b.finding_id not in claims
    assert claims[c.finding_id] == "The team wants a remote that is easy to use"
    decisions = [json.loads(x) for x in (run.dir / "reviews.jsonl").read_text().splitlines()]
    assert [(d["decision"], d["by"]) for d in decisions] == [
        ("accept", "user"),
        ("reject", "user"),
        ("edit", "user"),
    ]


class _StrictCritic(ModelLike):
    """Asks for one revision (naming a finding), then passes."""

    def __call__(self, body: dict) -> list[dict]:  # type: ignore[type-arg]
        from .modelish import agent_of

        if agent_of(body) == "critic" and self.calls.count("critic") == 0:
            self.calls.append("critic")
            doc = next(b for b in body["messages"][0]["content"] if b.get("type") == "document")
            first = json.loads(doc["source"]["data"].splitlines()[0])
            issue = {
                "finding_id": first["id"],
                "kind": "unsupported_claim",
                "detail": "the claim goes beyond the quote",
                "severity": "high",
            }
            return [
                {
                    "type": "tool_use",
                    "id": "toolu_critic1",
                    "name": "final_output",
                    "input": {"verdict": "revise", "issues": [issue], "summary": "one claim"},
                }
            ]
        return super().__call__(body)


@pytest.mark.slow
def test_the_critic_triggers_a_bounded_replan(project_dir: Path, corpus3: Path) -> None:
    import workbench as wb

    responder = _StrictCritic()
    project = wb.Project(
        project_dir, settings=_settings(max_replans=1), model=function_model(responder)
    )
    run = project.analyze(corpus3, QUESTION, engine="model", **QUIET)
    assert responder.calls.count("interview-analyst") == 4  # 3 documents + 1 redone
    assert responder.calls.count("critic") == 2
    # the critic's note reaches the analyst as data (it is written from corpus text), not
    # in the trusted instructions
    last = responder.analyst_bodies[-1]["messages"][0]["content"]
    notes = [b for b in last if b.get("type") == "document" and b.get("title") == "critic notes"]
    assert notes and "unsupported_claim" in notes[0]["source"]["data"]
    assert "unsupported_claim" not in responder.analyst_prompts[-1]
    replans = json.loads((run.dir / "plan.json").read_text())["replans"]
    assert len(replans) == 1 and len(replans[0]["documents"]) == 1
    assert run.manifest["replans"] == 1 and run.manifest["critic"]["verdict"] == "pass"
