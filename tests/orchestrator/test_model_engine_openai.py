"""The model engine end to end through the real OpenAICompatibleModel and the fake
OpenAI-compatible server: a whole run, a run in a small context window (documents in
parts, hierarchical synthesis, critic per theme), the CLI with --model-url, and
kill -9 then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from subagents.models.messages import Usage
from subagents.models.openai_compat import OpenAICompatibleModel
from subagents.models.pricing import ModelPrice, PriceTable
from subagents.testing.fake_openai_server import (
    FakeOpenAIConfig,
    blocks_responder,
    fake_openai_server_in_thread,
)
from workbench.cli import main
from workbench.core.settings import ModelSettings, Settings
from workbench.runs.corpus import Corpus

from .conftest import QUESTION
from .model_script import OPENAI_TIERS, SETTINGS, make_responder
from .modelish import ModelLike

pytestmark = pytest.mark.slow
PRICES = PriceTable(
    {
        m: ModelPrice(Decimal("1"), Decimal("4"), cache_read=Decimal("0.25"))
        for m in OPENAI_TIERS.values()
    }
)


def _client(server: object, **kw: object) -> OpenAICompatibleModel:
    return OpenAICompatibleModel(
        base_url=server.base_url,  # type: ignore[attr-defined]
        tiers=OPENAI_TIERS,  # type: ignore[arg-type]
        prices=PRICES,
        max_attempts=3,
        **kw,  # type: ignore[arg-type]
    )


def _verbatim(run: object, corpus3: Path) -> None:
    docs = Corpus.load(corpus3).by_id()
    for f in run.findings:  # type: ignore[attr-defined]
        for ev in f.evidence:
            assert ev.quote in docs[f.doc_id].segment(ev.segment_id).text
            assert docs[f.doc_id].text[ev.start_char : ev.end_char] == ev.quote


def test_whole_flow_through_an_openai_compatible_endpoint(project_dir: Path, corpus3: Path) -> None:
    import workbench as wb

    responder = ModelLike()
    with fake_openai_server_in_thread(responder=blocks_responder(responder)) as server:
        project = wb.Project(
            project_dir, settings=Settings(models=ModelSettings(cache=False)), model=_client(server)
        )
        run = project.analyze(corpus3, QUESTION, engine="model", on_event=lambda e: None)
        records = list(server.records)
        usage_total = dict(server.usage_total)
        bodies = list(server.requests_seen)

    assert run.status == "complete"
    assert {"query-writer", "interview-analyst", "theme-synthesizer", "critic"} <= set(
        responder.calls
    )
    assert {r.model for r in records} == set(OPENAI_TIERS.values())
    # agents with tools (analysts, critic) use native tool calls; the synthesizer, with
    # none, JSON-schema structured output
    analyst = [b for b in bodies if b["model"] == "local-worker"]
    synth = [b for b in bodies if "You synthesise findings" in b["messages"][0]["content"]]
    assert analyst and all("tools" in b for b in analyst)
    assert synth and all(b["response_format"]["type"] == "json_schema" for b in synth)
    spec = json.loads((run.dir / "report_spec.json").read_text())
    assert {row["claim"] for row in spec["findings"]} == set(responder.claims)
    assert run.manifest["quote_check"]["failed"] == len(responder.bogus) == 3
    _verbatim(run, corpus3)
    assert [t.label for t in run.themes] == [
        "What the remote should do",
        "Worries about the project",
    ]
    expected = sum((PRICES.cost(r.model, Usage(**r.usage)) for r in records if r.usage), Decimal(0))
    m = run.manifest
    assert Decimal(m["cost_usd_exact"]) == expected > 0
    assert m["tokens"]["input"] == usage_total["input_tokens"]
    assert m["tokens"]["output"] == usage_total["output_tokens"]
    assert m["tokens"]["cache_read"] == usage_total["cache_read_input_tokens"] > 0
    assert "local-worker" in m["engine_note"]


def test_a_small_context_window_is_respected_end_to_end(project_dir: Path, corpus3: Path) -> None:
    """A 6k window on the server and in the settings, 4k for the lead model: every
    request fits (the server would refuse one that did not), documents go in parts,
    synthesis (lead) is hierarchical and the critic (lead) reviews per theme."""
    import workbench as wb

    responder = ModelLike()
    config = FakeOpenAIConfig(context_window=6000)
    settings = Settings(
        models=ModelSettings(
            cache=False,
            synthetic_queries=False,
            context_window=6000,
            context_windows={"local-lead": 4096},
        )
    )
    with fake_openai_server_in_thread(config, blocks_responder(responder)) as server:
        project = wb.Project(project_dir, settings=settings, model=_client(server))
        run = project.analyze(corpus3, QUESTION, engine="model", on_event=lambda e: None)
        statuses = server.status_counts()
        biggest = server.max_prompt_tokens
        bodies = list(server.requests_seen)

    assert run.status == "complete"
    assert statuses[400] == 0 and biggest < 6000
    assert all(b["max_tokens"] <= 6000 // 4 for b in bodies)
    assert all(b["max_tokens"] <= 4096 // 4 for b in bodies if b["model"] == "local-lead")
    tasks = [json.loads(p.read_text()) for p in (run.dir / "tasks").glob("analyze-*.json")]
    assert len(tasks) == 3 and all(t.get("requests", 1) > 1 for t in tasks)
    parts = [p for p in responder.analyst_prompts if "This block is part" in p]
    assert len(parts) == len(responder.analyst_prompts) > 3
    themes = json.loads((run.dir / "themes.json").read_text())
    assert "hierarchical" in themes["method"]
    assert responder.calls.count("theme-synthesizer") > 1 and responder.calls.count("critic") > 1
    assert "per theme" in run.manifest["critic"]["summary"]
    by_id = {f.id: f for f in run.findings}
    for t in run.themes:  # prevalence counted by the runtime from the finding ids
        assert t.n_documents == len({by_id[x].doc_id for x in t.finding_ids})
    assert run.manifest["quote_check"]["failed"] == len(responder.bogus)
    _verbatim(run, corpus3)


def test_cli_analyze_and_doctor_with_model_url(project_dir: Path, corpus3: Path) -> None:
    responder = ModelLike()
    (project_dir / ".workbench" / "config.toml").write_text(
        '[models]\nmodel = "local-model"\ncache = false\nsynthetic_queries = false\n'
    )
    with fake_openai_server_in_thread(
        FakeOpenAIConfig(models=["local-model"]), blocks_responder(responder)
    ) as server:
        url = server.base_url
        doctor = CliRunner().invoke(
            main, ["doctor", "--project", str(project_dir), "--model-url", url, "--json"]
        )
        r = CliRunner().invoke(
            main,
            ["analyze", str(corpus3), "-q", QUESTION, "--project", str(project_dir),
             "--model-url", url, "--json"],
        )  # fmt: skip
        missing = CliRunner().invoke(
            main, ["doctor", "--project", str(project_dir), "--model-url", url, "--model", "other"]
        )
    assert doctor.exit_code == 0, doctor.output
    d = json.loads(doctor.stdout)
    assert d["engine"] == "model" and d["provider"] == "openai-compatible"
    assert d["local_endpoint"] is True and d["api_key_env"] is None
    assert d["models"]["worker"] == {
        "model": "local-model",
        "context_window": 8192,
        "price_per_mtok": "free (local endpoint)",
    }
    assert d["endpoint"]["reachable"] and d["endpoint"]["served_models"] == ["local-model"]
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["engine"] == "model" and summary["findings"] == len(responder.claims)
    assert missing.exit_code == 1 and "NOT SERVED: other" in missing.stdout


def test_kill_9_then_resume_through_the_openai_endpoint(
    project_dir: Path, corpus3: Path, repo_root: Path, tmp_path: Path
) -> None:
    import workbench as wb

    with fake_openai_server_in_thread(responder=blocks_responder(make_responder())) as server:
        client = OpenAICompatibleModel(base_url=server.base_url, tiers=OPENAI_TIERS)  # type: ignore[arg-type]
        reference = wb.Project(project_dir, settings=SETTINGS, model=client).analyze(
            corpus3, QUESTION, engine="model", on_event=lambda e: None
        )
    runs = project_dir / ".workbench" / "runs"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def script(log: Path, mode: str) -> list[str]:
        return [sys.executable, "-m", "tests.orchestrator.model_script", str(project_dir), str(corpus3), str(log), mode, "openai"]  # fmt: skip

    log1, log2 = tmp_path / "calls1.log", tmp_path / "calls2.log"
    proc = subprocess.Popen(script(log1, "new"), cwd=repo_root, env=env, stderr=subprocess.DEVNULL)
    run_dir = None
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            fresh = [d for d in runs.iterdir() if d != reference.dir]
            if fresh and list((fresh[0] / "tasks").glob("analyze-*.json")):
                run_dir = fresh[0]
                break
            time.sleep(0.02)  # polling the filesystem for observable progress
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert run_dir is not None
    finished = {p.name: p.read_bytes() for p in (run_dir / "tasks").glob("analyze-*.json")}
    done_docs = {json.loads(b)["doc_id"] for b in finished.values()}
    assert 1 <= len(finished) < 3
    again = subprocess.run(script(log2, "resume"), cwd=repo_root, env=env, capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    second = log2.read_text().split()
    assert not set(second) & done_docs and len(second) == 3 - len(finished)
    resumed = wb.Run(run_dir)
    assert resumed.status == "complete" and resumed.manifest["attempts"] == 2
    assert [f.model_dump() for f in resumed.findings] == [
        f.model_dump() for f in reference.findings
    ]
