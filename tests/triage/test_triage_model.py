"""The model engine of triage: the ticket-analyst in batches, scripted, then the fake API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.orchestrator.modelish import function_model
from tests.triage.modelish import TriageResponder
from workbench.core.settings import ModelSettings, Settings, TriageSettings

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


def test_eval_triage_with_the_model_engine_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from click.testing import CliRunner

    from tests.orchestrator.servers import fake_server
    from tests.triage.data import rows, write_csv
    from workbench.cli.app import main

    train = write_csv(tmp_path / "train.csv", rows(6, seed=1))
    test = write_csv(tmp_path / "test.csv", rows(3, seed=5))
    project = tmp_path / "project"
    (project / ".workbench").mkdir(parents=True)
    (project / ".workbench" / "config.toml").write_text(
        "[models]\ncache = false\n[triage]\nbatch_size = 4\n"
    )
    responder = TriageResponder()
    with fake_server(responder) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        res = CliRunner().invoke(
            main,
            ["eval", "triage", "--train", str(train), "--test", str(test), "--label-column",
             "label", "--group-column", "product", "--engine", "model", "--project",
             str(project), "--json"],
        )  # fmt: skip
        records = list(server.records)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"overall", "groups", "per_label"}
    assert set(out["groups"]) == {"desktop", "mobile"}
    # every test ticket was sorted by the model, in batches of 4, with training examples
    n_test = len(rows(3, seed=5))
    sorted_ids = [t for c in responder.triage_calls for t in c["tickets"]]
    assert len(sorted_ids) == len(set(sorted_ids)) == n_test
    assert len(responder.triage_calls) == -(-n_test // 4)
    assert all(c["examples"] for c in responder.triage_calls)
    assert responder.synth_calls == 0  # classification only: no themes
    assert records and {r.status for r in records} == {200}
    assert out["overall"]["f1"] > 0.7  # the scripted analyst reads the generated wording
    assert "model engine: $" in res.stderr and "eval-triage" in res.stderr
    runs = list((project / ".workbench" / "runs").glob("*eval-triage*"))
    assert len(runs) == 1
    manifest = json.loads((runs[0] / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["recipe"] == "eval-triage"


def test_eval_triage_with_the_model_engine_and_no_model_says_so(tmp_path: Path) -> None:
    from tests.triage.data import rows, write_csv
    from workbench.core.errors import UserError
    from workbench.triage.evaluate import evaluate_triage

    train = write_csv(tmp_path / "train.csv", rows(4, seed=1))
    with pytest.raises(UserError, match="needs a project"):
        evaluate_triage(train, train, label_column="label", engine="model")
