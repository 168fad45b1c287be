"""The model engine of triage: the ticket-analyst in batches, scripted, then the fake API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.orchestrator.modelish import function_model
from tests.triage.modelish import TriageResponder
from workbench.settings import ModelSettings, Settings, TriageSettings

pytestmark = pytest.mark.slow


def _settings(batch: int = 3) -> Settings:
    return Settings(models=ModelSettings(cache=False), triage=TriageSettings(batch_size=batch))


def test_the_ticket_analyst_sorts_batches_with_similar_examples(
    triage_files: dict[str, Path], tmp_path: Path
) -> None:
    import workbench as wb
    from workbench.triage.labelled import load_tickets

    docs = load_tickets(triage_files["tickets"]).documents
    bad, odd = docs[0].id, docs[1].id
    responder = TriageResponder(bad_quote={bad}, unknown={odd})
    project = wb.Project(tmp_path, settings=_settings(), model=function_model(responder))
    run = project.triage(
        triage_files["tickets"],
        triage_files["labelled"],
        group_column="product",
        engine="model",
        on_event=lambda e: None,
    )
    assert run.status == "complete" and run.engine == "model"
    # 16 tickets in batches of 3; every ticket answered once
    assert len(responder.triage_calls) == 6
    assert sorted(t for c in responder.triage_calls for t in c["tickets"]) == sorted(
        d.id for d in docs
    )
    # few-shot examples: similar ones first (same product as the batch), every category shown
    for call in responder.triage_calls:
        assert {e["category"] for e in call["examples"]} == {"bug", "feature", "question"}
    by = {lab.doc_id: lab for lab in run.labels}
    assert any("not verbatim" in f for f in by[bad].flags) and by[bad].confidence == 0.0
    assert by[bad].evidence[0].quote in docs[0].text  # the ticket's opening stands in
    assert any("not a category" in f for f in by[odd].flags) and by[odd].predicted is None
    queued = {item["doc_id"] for item in run.review_queue}
    assert {bad, odd} <= queued
    ok = [lab for lab in run.labels if lab.source == "model" and not lab.flags]
    assert ok and all(lab.status == "auto" and lab.confidence == 0.9 for lab in ok)
    assert responder.synth_calls >= 1  # themes within categories by the theme-synthesizer
    assert "language models" in run.manifest["engine_note"]


def test_through_the_fake_messages_api(triage_files: dict[str, Path], tmp_path: Path) -> None:
    import workbench as wb
    from subagents.models.anthropic import AnthropicModel
    from tests.orchestrator.servers import fake_server

    responder = TriageResponder()
    with fake_server(responder) as server:
        model = AnthropicModel(api_key="test-key", base_url=server.base_url, max_attempts=3)
        project = wb.Project(tmp_path, settings=_settings(batch=10), model=model)
        run = project.triage(
            triage_files["tickets"],
            triage_files["labelled"],
            engine="model",
            on_event=lambda e: None,
        )
        records = list(server.records)
    assert run.status == "complete"
    assert any(r.model == "claude-sonnet-4-6" for r in records)  # the worker tier: ticket-analyst
    assert {lab.predicted for lab in run.labels if lab.source == "model"} <= {
        "bug",
        "feature",
        "question",
    }
