"""Fast unit tests of the orchestrator's parts: plans, control, executor, budgets, store."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from subagents.errors import ModelCallError, NonRetryableModelError
from subagents.models.messages import ModelRequest, user
from subagents.models.pricing import PriceTable
from subagents.outputs import PlanOutput, PlanStage
from subagents.testing.models import FunctionModel
from workbench.core.errors import BudgetExceededError, UserError
from workbench.core.settings import Budgets
from workbench.orchestrator.plans import RECIPES, Plan, Stage, plan_from_planner
from workbench.runs.budgets import BudgetTracker, MeteredModel, ModelStopError
from workbench.runs.control import INBOX, RunCancelledError, RunControl
from workbench.runs.fanout import FanOutStats, Task, TokenBucket, fan_out, idempotency_key
from workbench.runs.store import RunStore

SUBAGENTS = {
    "interview-analyst": "analyst-findings",
    "ticket-analyst": "analyst-findings",
    "code-navigator": "code-map",
    "theme-synthesizer": "themes",
    "critic": "critique",
    "chart-maker": "chart",
    "planner": "plan",
    "query-writer": "queries",
}


class _Corpus:
    def __init__(self, kind: str, n: int) -> None:
        from retrieval.types import Document

        self.documents = [
            Document(id=f"d{i}", kind=kind, title=f"d{i}", source_path="x", text="", segments=[])  # type: ignore[arg-type]
            for i in range(n)
        ]

    def __len__(self) -> int:
        return len(self.documents)


def _tasks(n: int) -> list[Task]:
    return [Task(idempotency_key("s", "v1", i=i), "s", f"task {i}", i) for i in range(n)]


# -- plans -------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_every_recipe_is_a_valid_plan_of_existing_subagents(recipe: str) -> None:
    kind = {"triage": "ticket", "repo-map": "code"}.get(recipe, "conversation")
    plan = RECIPES[recipe](_Corpus(kind, 25), "why?", batch_size=10)  # type: ignore[arg-type]
    plan.validate_against(SUBAGENTS)
    order = [s.id for s in plan.ordered()]
    assert order[0] == "analyze" and order[-1] == "export"
    analyst = plan.of_kind("analyze")[0]
    assert set(analyst.gates) == {"schema", "quotes", "coverage"}
    if recipe in ("triage", "repo-map"):
        assert analyst.fan_out == "batches" and analyst.batch_size == 10


def test_plans_refuse_unknown_subagents_and_cycles() -> None:
    stages = [
        Stage(id="a", subagent="mind-reader", kind="analyze", fan_out="documents"),
        Stage(id="export", subagent="", kind="export", depends_on=["a"]),
    ]
    with pytest.raises(UserError, match=r"mind-reader.*does not exist"):
        Plan(question="q", stages=stages).validate_against(SUBAGENTS)
    cyc = [
        Stage(id="a", subagent="interview-analyst", kind="analyze", depends_on=["b"]),
        Stage(id="b", subagent="critic", kind="critic", depends_on=["a"]),
    ]
    with pytest.raises(UserError, match="cycle"):
        Plan(question="q", stages=cyc).validate_against(SUBAGENTS)


def test_planner_output_is_constrained_to_existing_subagents() -> None:
    out = PlanOutput(
        rationale="r",
        stages=[
            PlanStage(id="Analyse!", subagent="interview-analyst", goal="g", sub_questions=["a"]),
            PlanStage(id="group", subagent="theme-synthesizer", goal="g", depends_on=["x"]),
        ],
    )
    plan = plan_from_planner(out, "q", SUBAGENTS)
    assert [s.kind for s in plan.stages] == ["analyze", "synthesize", "export"]
    assert plan.source == "planner" and plan.stages[0].id == "analyse-"
    bad = PlanOutput(rationale="r", stages=[PlanStage(id="x", subagent="oracle", goal="g")])
    with pytest.raises(UserError, match="unknown sub-agent 'oracle'"):
        plan_from_planner(bad, "q", SUBAGENTS)


# -- control and executor ------------------------------------------------------------------


def test_steering_applies_to_tasks_not_yet_started_and_is_recorded(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    control = RunControl()
    control.attach(store)
    seen: dict[int, tuple[str, ...]] = {}

    async def work(t: Task) -> dict[str, Any]:
        seen[t.payload] = t.steering
        if t.payload == 1:
            control.steer("only the pricing complaints")
        return {"i": t.payload}

    async def main() -> None:
        control.bind_loop()
        await fan_out(_tasks(4), work, store, concurrency=1, control=control)

    asyncio.run(main())
    assert seen == {
        0: (),
        1: (),
        2: ("only the pricing complaints",),
        3: ("only the pricing complaints",),
    }
    log = [json.loads(x) for x in (store.dir / "steering.jsonl").read_text().splitlines()]
    applied = [r for r in log if r["type"] == "applied"]
    assert len(applied) == 1 and applied[0]["where"] == "s: task 2"
    again = RunControl()
    again.attach(store)  # a resumed run sees the message, already applied
    assert [(m.text, m.applied_where) for m in again.messages] == [
        ("only the pricing complaints", "s: task 2")
    ]


def test_steering_file_and_inbox_commands(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    steer_file = tmp_path / "steer.txt"
    steer_file.write_text("focus on onboarding\n")
    control = RunControl(steering_file=steer_file, poll_s=0)
    control.attach(store)
    (store.dir / INBOX).write_text("/cancel out of time\n")

    async def main() -> None:
        control.bind_loop()
        await control.checkpoint("planning")

    with pytest.raises(RunCancelledError, match="out of time"):
        asyncio.run(main())
    assert [m.text for m in control.messages] == ["focus on onboarding"]
    assert all(m.source == "file" for m in control.messages)


def test_pause_blocks_new_tasks_until_resume(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    control = RunControl()
    started: list[int] = []

    async def work(t: Task) -> dict[str, Any]:
        started.append(t.payload)
        if t.payload == 0:
            control.pause()
            asyncio.get_running_loop().call_soon(check_then_resume)
        return {}

    def check_then_resume() -> None:
        assert started == [0]  # paused: task 1 has not started
        control.resume()

    async def main() -> None:
        control.bind_loop()
        await fan_out(_tasks(3), work, store, concurrency=1, control=control)

    asyncio.run(main())
    assert started == [0, 1, 2]


def test_a_budget_stop_keeps_what_finished(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path)
    tracker = BudgetTracker(Budgets(max_tokens=1))
    model = MeteredModel(FunctionModel(lambda r: "ok"), tracker)
    request = ModelRequest(messages=[user("hi")])

    async def work(t: Task) -> dict[str, Any]:
        await model.complete(request)
        return {"i": t.payload}

    with pytest.raises(BudgetExceededError, match=r"token budget \(max_tokens=1"):
        asyncio.run(fan_out(_tasks(5), work, store, concurrency=1, budget=tracker))
    assert len(store.finished_tasks()) == 1 and tracker.stopped_by["cap"] == "max_tokens"  # type: ignore[index]


def test_circuit_breaker_and_non_retryable_errors_stop_the_run() -> None:
    def fail(kind: type[Exception]) -> Any:
        def fn(request: ModelRequest) -> str:
            raise kind("HTTP 529 overloaded")

        return fn

    request = ModelRequest(messages=[user("hi")])
    tracker = BudgetTracker(Budgets(max_consecutive_failures=3))
    flaky = MeteredModel(FunctionModel(fail(ModelCallError)), tracker)

    async def calls(model: MeteredModel, n: int) -> list[str]:
        out = []
        for _ in range(n):
            try:
                await model.complete(request)
            except ModelStopError as e:
                out.append(f"stop: {e}")
            except ModelCallError:
                out.append("failed")
        return out

    got = asyncio.run(calls(flaky, 4))
    assert got[:2] == ["failed", "failed"] and "circuit breaker" in got[2]
    assert "circuit breaker" in got[3]  # stays open
    refused = MeteredModel(FunctionModel(fail(NonRetryableModelError)), BudgetTracker(Budgets()))
    got = asyncio.run(calls(refused, 1))
    assert "retrying cannot help" in got[0] and "API key" in got[0]


def test_costs_are_charged_exactly() -> None:
    tracker = BudgetTracker(Budgets())
    model = MeteredModel(
        FunctionModel(lambda r: "ok", model_id="claude-haiku-4-5", prices=PriceTable()), tracker
    )
    r = asyncio.run(model.complete(ModelRequest(messages=[user("hello")])))
    assert tracker.ledger.cost_usd == r.cost_usd > Decimal(0)
    assert tracker.ledger.as_dict()["by_model"]["claude-haiku-4-5"]["calls"] == 1


def test_token_bucket_spaces_task_starts() -> None:
    async def main() -> float:
        bucket = TokenBucket(rate=50, burst=1)
        t0 = time.monotonic()
        for _ in range(6):
            await bucket.acquire()
        return time.monotonic() - t0

    assert asyncio.run(main()) >= 5 / 50 * 0.9


# -- store ------------------------------------------------------------------------------------


def test_journal_store_survives_a_cut_line_and_resumes(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, journal=True)
    tasks = _tasks(6)

    async def work(t: Task) -> dict[str, Any]:
        return {"i": t.payload}

    asyncio.run(fan_out(tasks[:3], work, store, concurrency=2))
    store.close()
    with open(store.journal_path, "ab") as f:
        f.write(b'{"key": "s-half", "result": {"i"')  # a kill in the middle of a write
    again = RunStore(store.dir, journal=True)
    ran: list[int] = []

    async def count(t: Task) -> dict[str, Any]:
        ran.append(t.payload)
        return {"i": t.payload}

    results, stats = asyncio.run(fan_out(tasks, count, again, concurrency=2))
    again.close()
    assert sorted(ran) == [3, 4, 5] and stats.reused == 3
    assert [r["i"] for r in results] == list(range(6))
    assert len(RunStore(store.dir, journal=True).finished_tasks()) == 6


def test_a_resume_reruns_exactly_the_tasks_whose_stored_results_are_unreadable(
    tmp_path: Path,
) -> None:
    tasks = _tasks(6)

    async def work(t: Task) -> dict[str, Any]:
        return {"i": t.payload, "text": f"result {t.payload}"}

    reference, _ = asyncio.run(fan_out(tasks, work, RunStore.create(tmp_path), concurrency=2))
    store = RunStore.create(tmp_path)
    asyncio.run(fan_out(tasks[:4], work, store, concurrency=2))
    # a disk that lied: a cut result and one that is not text; and a temp file that a
    # kill left in the middle of writing task 5 (not a result)
    store.task_path(tasks[1].key).write_bytes(b'{"i": 1, "te')
    store.task_path(tasks[2].key).write_bytes(b"\xff\xfe{}")
    (store.tasks_dir / f".{tasks[5].key}.json.x1y2z3.tmp").write_bytes(b'{"i"')
    again = RunStore(store.dir)
    ran: list[int] = []
    reported: dict[int, tuple[dict[str, Any] | None, int]] = {}

    async def count(t: Task) -> dict[str, Any]:
        ran.append(t.payload)
        return await work(t)

    def on_done(t: Task, result: dict[str, Any] | None, st: FanOutStats) -> None:
        assert t.payload not in reported  # each task reported once
        reported[t.payload] = (result, st.reused)

    results, stats = asyncio.run(fan_out(tasks, count, again, concurrency=2, on_done=on_done))
    assert sorted(ran) == [1, 2, 4, 5]
    assert (stats.reused, stats.executed, stats.failed, stats.unstarted) == (2, 4, 0, 0)
    assert results == reference  # every result, in task order, as an uninterrupted run
    assert {i: r for i, (r, _) in reported.items()} == dict(enumerate(reference))
    assert sorted(reported[i][1] for i in (0, 3)) == [1, 2]  # each reuse counted as reported
    assert [RunStore(store.dir).load_task(t.key) for t in tasks] == reference  # rewritten


def test_cli_steer_appends_to_the_run_inbox(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from workbench.cli import main

    store = RunStore.create(tmp_path)
    store.update_manifest(status="running")
    runner = CliRunner()
    ok = runner.invoke(main, ["steer", str(store.dir), "look at pricing"])
    assert ok.exit_code == 0, ok.output
    assert (store.dir / INBOX).read_text() == "look at pricing\n"
    bad = runner.invoke(main, ["steer", str(tmp_path / "nope"), "x"])
    assert bad.exit_code == 2 and "not a run directory" in bad.output


def test_compare_segments_counts_each_theme_within_each_segment(
    tmp_path: Path, corpus3: Path
) -> None:
    from subagents.findings import Synthesis, Theme
    from workbench.outputs.tables import compare_segments
    from workbench.runs.corpus import Corpus

    corpus = Corpus.load(corpus3)
    ids = [d.id for d in corpus.documents]
    theme = Theme(
        id="t1",
        label="Buttons",
        summary="",
        finding_ids=[],
        doc_ids=ids[:2],
        n_documents=2,
        total_documents=3,
    )
    out = compare_segments(RunStore.create(tmp_path), corpus, [], Synthesis(themes=[theme]))
    assert out["by"] == "series" and out["segments"] == {"ES2002": 1, "IS1000": 1, "TS3005": 1}
    assert out["themes"][0]["segments"]["TS3005"] == {"n": 0, "of": 1}


def test_roles_reach_the_model_analyst_and_the_gate_keeps_only_participants(tmp_path: Path) -> None:
    from subagents.findings import Evidence, Finding
    from subagents.outputs import FindingDraft
    from subagents.verify import interviewer_evidence
    from workbench.engines.evidence import fill_evidence
    from workbench.engines.render import render_document
    from workbench.runs.corpus import Corpus

    from .modelish import ModelLike

    (tmp_path / "p1.txt").write_text(
        "Interviewer: What makes monitoring your models hard in practice these days?\n\n"
        "Participant: The alerts fire on every small shift in the inputs, so after a week the "
        "whole team ignores them and real drift goes unnoticed for a month.\n",
        encoding="utf-8",
    )
    corpus = Corpus.load(tmp_path)
    doc = corpus.documents[0]
    rendered = render_document(doc)
    assert "Interviewer [interviewer]:" in rendered and "Participant [participant]:" in rendered
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "document", "source": {"data": rendered}}]}
        ]
    }
    drafts = ModelLike()._findings(body)["findings"]
    good = fill_evidence(
        FindingDraft.model_validate(drafts[0]).to_finding(task_key="t", index=0), corpus.by_id()
    )
    assert good.evidence[0].role == "participant"
    assert good.context is not None and good.context.role == "interviewer"
    assert doc.text[good.context.start_char : good.context.end_char] == good.context.quote
    prompt = doc.segments[0]
    bad = fill_evidence(
        Finding(
            id="b",
            task_key="t",
            doc_id=doc.id,
            claim="They asked about monitoring",
            confidence=0.9,
            evidence=[Evidence(doc_id=doc.id, segment_id=prompt.id, quote=prompt.text[:40])],
        ),
        corpus.by_id(),
    )
    assert [p.finding_id for p in interviewer_evidence([good, bad])] == ["b"]
