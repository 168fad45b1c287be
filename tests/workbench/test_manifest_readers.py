"""The readers of a run's manifest read the typed `RunManifest` (through the one loader),
not a dict with `.get` defaults.

Each test writes the manifest through the one writer with fields named from the model
(`_typed` refuses a name the model does not declare), then asks a reader what it shows.
A field renamed in the model fails here twice: `_typed` refuses the old name, and a
reader still using it meets no value (the manifest keeps unknown keys, so a reader of
a dict would silently show a default); mypy (`make check`) flags the reader itself.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from subagents.findings import Synthesis
from workbench.core.errors import UserError
from workbench.evaluation.coding import _run_texts
from workbench.outputs.qda import run_documents, write_qdpx_for_run
from workbench.runs.corpus import Corpus
from workbench.runs.manifest import RunManifest, load_manifest
from workbench.runs.run import Run
from workbench.runs.store import RunStore
from workbench.ui import html as H

NOTE = "Produced by the test engine (note 7f3a)."
QUESTION = "What worries the teams about the remote?"


def _typed(store: RunStore, **fields: Any) -> None:
    """Write `fields` through the one writer; each must be a field the model declares."""
    unknown = set(fields) - set(RunManifest.model_fields)
    assert not unknown, f"not fields of RunManifest (renamed?): {sorted(unknown)}"
    store.update_manifest(**fields)


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "interviews"
    folder.mkdir()
    (folder / "p1.txt").write_text("The battery dies too fast.\n", encoding="utf-8")
    (folder / "p2.txt").write_text("I lose the remote under the sofa.\n", encoding="utf-8")
    return folder


@pytest.fixture
def run(tmp_path: Path, corpus_dir: Path) -> Run:
    store = RunStore.create(tmp_path / "runs", "typed")
    corpus = Corpus.load(corpus_dir)
    _typed(
        store,
        run_id=store.run_id,
        status="complete",
        started_at="2026-03-04T05:06:07Z",
        question=QUESTION,
        engine="offline",
        engine_note=NOTE,
        corpus={"path": str(corpus_dir), "name": "remote-study", "hash": corpus.content_hash},
        documents=2,
        findings=5,
        themes=0,
        tokens={"input": 20, "output": 9, "cache_read": 1, "cache_creation": 0},
        cost_usd=0.1234,
        outputs={"report_html": "report.html"},
        settings={"budgets": {"max_usd": 2.5, "max_tokens": 40000}},
    )
    store.write_json("themes.json", {"themes": []})
    return Run(store.dir)


def test_the_run_card_shows_the_typed_fields(run: Run) -> None:
    card = H.run_html(run)
    assert "note 7f3a" in card and "What worries the teams" in card
    assert "2 documents · 5 findings · 0 themes · 30 tokens · $0.1234" in card
    assert str(run.dir / "report.html") in card


def test_the_panel_reads_the_caps_and_the_results_from_the_typed_manifest(run: Run) -> None:
    from workbench.ui.panel import RunPanel

    panel = RunPanel(None, start=False, thumbnails=False)
    panel._read_caps(run.dir)
    assert panel._caps_read
    assert (panel.state.usage.max_usd, panel.state.usage.max_tokens) == (2.5, 40000)
    panel.show_results(run)
    assert panel.state.engine_note == NOTE
    usage = panel.state.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cost_usd) == (21, 9, 0.1234)


def test_the_qda_export_names_the_run_from_the_typed_manifest(run: Run) -> None:
    docs = run_documents(run)
    assert sorted(docs) == sorted(Corpus.load(Path(run.record.corpus.path)).by_id())
    out = write_qdpx_for_run(run.dir, run.record, docs, [], Synthesis(themes=[]))
    qde = zipfile.ZipFile(out).read("project.qde").decode("utf-8")
    assert f'name="remote-study: {QUESTION}"' in qde
    assert "note 7f3a" in qde and run.id in qde
    assert "2026-03-04T05:06:07" in qde  # the run's start, so the same run exports the same bytes


def test_the_coding_evaluation_reads_the_corpus_of_the_typed_manifest(run: Run) -> None:
    texts = _run_texts(run)
    assert len(texts) == 2 and any("battery dies" in t for t in texts.values())


def test_a_changed_or_missing_corpus_is_refused_by_name(run: Run, corpus_dir: Path) -> None:
    (corpus_dir / "p3.txt").write_text("A third voice.\n", encoding="utf-8")
    with pytest.raises(UserError, match="changed since run"):
        run_documents(run)
    store = RunStore(run.dir)
    _typed(store, corpus={"path": "", "name": "gone", "hash": ""})
    with pytest.raises(UserError, match="not there any more"):
        run_documents(Run(run.dir))
    assert _run_texts(Run(run.dir)) == {}


def test_a_manifest_of_the_old_shape_reads_with_defaults(tmp_path: Path) -> None:
    """Written before the model had tokens, outputs, documents or settings: every reader
    shows its defaults, none fails."""
    run_dir = tmp_path / "runs" / "20250101-000000-old-1a2b"
    run_dir.mkdir(parents=True)
    old = {"run_id": run_dir.name, "status": "complete", "question": "q?", "legacy": 1}
    (run_dir / "manifest.json").write_text(json.dumps(old), encoding="utf-8")
    (run_dir / "themes.json").write_text('{"themes": []}', encoding="utf-8")
    m = load_manifest(run_dir / "manifest.json")
    assert (m.tokens, m.outputs, m.documents, m.started()) == (None, {}, None, None)
    assert m.budgets().max_usd is None
    card = H.run_html(Run(run_dir))
    assert "0 tokens · $0.0000" in card
    from workbench.ui.panel import RunPanel

    panel = RunPanel(None, start=False, thumbnails=False)
    panel._read_caps(run_dir)
    assert panel._caps_read and panel.state.usage.max_usd is None


def test_the_loader_refuses_what_is_not_a_manifest(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"tokens": "many"}', encoding="utf-8")
    with pytest.raises(UserError, match="corrupt manifest"):
        load_manifest(path)
    path.write_text('{"settings": {"budgets": {"max_usd": -1}}}', encoding="utf-8")
    with pytest.raises(UserError, match="budgets are not valid"):
        load_manifest(path).budgets()
    assert load_manifest(tmp_path / "none.json") == RunManifest()
