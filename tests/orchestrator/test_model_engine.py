"""The model engine end to end through the real AnthropicModel and the fake Messages API."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from subagents.models.anthropic import AnthropicModel
from subagents.models.messages import Usage
from subagents.models.pricing import PriceTable
from tests.helpers import deck_text
from workbench.core.settings import ModelSettings, Settings
from workbench.runs.corpus import Corpus

from .conftest import QUESTION
from .modelish import ModelLike
from .servers import fake_server


@pytest.mark.slow
def test_whole_flow_through_the_fake_messages_api(project_dir: Path, corpus3: Path) -> None:
    import workbench as wb

    responder = ModelLike()
    with fake_server(responder) as server:
        model = AnthropicModel(api_key="test-key", base_url=server.base_url, max_attempts=3)
        project = wb.Project(
            project_dir, settings=Settings(models=ModelSettings(cache=False)), model=model
        )
        events: list[wb.events.Event] = []  # type: ignore[name-defined]
        run = project.analyze(corpus3, QUESTION, engine="model", on_event=events.append)
        records = list(server.records)
        usage_total = dict(server.usage_total)

    assert run.status == "complete" and run.engine == "model"
    # every sub-agent of the flow ran through the API; the fast model wrote the queries
    assert {"query-writer", "interview-analyst", "theme-synthesizer", "critic"} <= set(
        responder.calls
    )
    assert {r.model for r in records} == {
        "claude-haiku-4-5",
        "claude-sonnet-4-6",
        "claude-opus-4-6",
    }

    # the findings are the server's, minus the paraphrases the verbatim gate dropped
    spec = json.loads((run.dir / "report_spec.json").read_text())
    shown = {row["claim"] for row in spec["findings"]}
    assert shown == set(responder.claims) and len(shown) == 9
    assert not shown & set(responder.bogus)
    assert run.manifest["quote_check"]["failed"] == len(responder.bogus) == 3
    docs = Corpus.load(corpus3).by_id()
    for f in run.findings:
        for ev in f.evidence:
            assert ev.quote in docs[f.doc_id].segment(ev.segment_id).text
            assert docs[f.doc_id].text[ev.start_char : ev.end_char] == ev.quote
    labels = [t.label for t in run.themes]
    assert labels == ["What the remote should do", "Worries about the project"]
    deck = deck_text(run.dir / "deck.pptx")
    assert "What the remote should do" in deck
    assert any(q["text"] in deck for t in spec["themes"] for q in t["quotes"])

    # cost in the manifest = the server's usage priced by the table, to the cent and below
    prices = PriceTable()
    expected = sum((prices.cost(r.model, Usage(**r.usage)) for r in records if r.usage), Decimal(0))
    m = run.manifest
    assert Decimal(m["cost_usd_exact"]) == expected > 0
    assert m["tokens"] == {
        "input": usage_total["input_tokens"],
        "output": usage_total["output_tokens"],
        "cache_read": usage_total["cache_read_input_tokens"],
        "cache_creation": usage_total["cache_creation_input_tokens"],
    }
    assert usage_total["cache_read_input_tokens"] > 0  # the shared prefix came from the cache
    # every output names the engine and its models
    assert "model engine" in m["engine_note"] and "claude-sonnet-4-6" in m["engine_note"]
    assert "claude-sonnet-4-6" in (run.dir / "report.html").read_text()
    assert "model engine" in deck.lower()
    # the run summary and the spans
    s = m["summary"]
    assert s["tasks"]["executed"] == 3 and s["model_calls"]["n"] == len(records)
    assert s["task_latency_s"]["p95"] is not None
    spans = [json.loads(x) for x in (run.dir / "trace.jsonl").read_text().splitlines()]
    chats = [sp for sp in spans if sp.get("attributes", {}).get("gen_ai.operation.name") == "chat"]
    assert chats and all("gen_ai.usage.input_tokens" in sp["attributes"] for sp in chats)
    assert all(sp["parent_id"] for sp in chats)
