"""The main job end to end on real meetings: outputs exist, quotes are verbatim, every
output names the engine, the index is reused, and the CLI speaks JSON."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
from pptx import Presentation

from exports.checks import assert_exports_ok
from exports.spec import ReportSpec
from exports.text import md_unescape
from tests.helpers import deck_text
from workbench.runs.corpus import Corpus

from .conftest import QUESTION

OFFLINE = "offline engine"


def _workbench(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=900,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_run_layout_and_summary(analysed) -> None:  # type: ignore[no-untyped-def]
    _, run, events = analysed
    assert run.status == "complete"
    for name in (
        "manifest.json",
        "plan.json",
        "findings.parquet",
        "themes.json",
        "trace.jsonl",
        "deck.pptx",
        "report.html",
        "report.md",
    ):
        assert (run.dir / name).is_file(), name
    assert len(list((run.dir / "tasks").glob("analyze-*.json"))) == 6
    s = run.summary()
    assert s["engine"] == "offline" and s["documents"] == 6 and s["cost_usd"] == 0.0
    assert s["findings"] > 10 and s["themes"], s
    stages = {e.stage for e in events if e.kind in ("stage_started", "stage_done")}
    assert {"index", "analyze", "synthesize", "charts", "export"} <= stages
    spans = [json.loads(x) for x in (run.dir / "trace.jsonl").read_text().splitlines()]
    assert any(sp.get("name") == "task analyze" for sp in spans)


def test_themes_have_prevalence_and_evidence_from_several_documents(analysed) -> None:  # type: ignore[no-untyped-def]
    _, run, _ = analysed
    fmap = {f.id: f for f in run.findings}
    labels = [t.label for t in run.themes]
    assert len(set(labels)) == len(labels), labels
    for t in run.themes:
        assert t.total_documents == 6 and 3 <= t.n_documents <= 6
        assert t.n_documents == len({fmap[i].doc_id for i in t.finding_ids})
        assert len({fmap[i].doc_id for i in t.representative_finding_ids}) >= 3
        assert t.label[0].isupper() and len(t.label) > 3
    assigned = {d for t in run.themes for d in t.doc_ids}
    assert (
        set(run.synthesis.unassigned_doc_ids)
        == {f"{m}" for m in Corpus.load(run.manifest["corpus"]["path"]).by_id()} - assigned
    )


def test_every_quote_in_every_output_is_verbatim_in_its_source(
    analysed, small_corpus: Path
) -> None:  # type: ignore[no-untyped-def]
    _, run, _ = analysed
    docs = Corpus.load(small_corpus).by_id()
    spec = json.loads((run.dir / "report_spec.json").read_text())
    quotes = [
        (q["doc_id"], q["segment_id"], q["text"], q["display"])
        for t in spec["themes"]
        for q in t["quotes"]
    ]
    assert quotes
    report = (run.dir / "report.html").read_text()
    markdown = (run.dir / "report.md").read_text()
    deck = deck_text(run.dir / "deck.pptx")
    for doc_id, seg_id, text, display in quotes:
        assert text in docs[doc_id].segment(seg_id).text
        # shown as a reader sees it: transcript markup removed, the words the same
        assert html.escape(display, quote=False) in report or html.escape(display) in report
        assert display in md_unescape(markdown)  # report.md escapes Markdown in corpus text
    for markup in ("{vocalsound}", "{disfmarker}", "{gap}", "L_C_D_"):
        assert markup not in report and markup not in markdown and markup not in deck
    shown_in_deck = [d for _, _, _, d in quotes if d in deck]
    assert shown_in_deck, "the deck shows no quote whole"
    table = pl.read_parquet(run.dir / "findings.parquet")
    for row in table.iter_rows(named=True):
        doc = docs[row["doc_id"]]
        assert doc.text[row["start_char"] : row["end_char"]] == row["quote"]
    assert run.manifest["quote_check"]["failed"] == 0
    # the checks read the deck, the HTML and the Markdown back: every quote shown traces to
    # a verbatim quote of its source, every number is one of the spec's
    assert_exports_ok(
        ReportSpec.model_validate(spec),
        {d.id: d.text for d in docs.values()},
        deck=run.dir / "deck.pptx",
        html=run.dir / "report.html",
        markdown=run.dir / "report.md",
    )
    assert (run.dir / "findings.csv").is_file()


def test_the_question_is_answered_part_by_part_in_every_output(analysed) -> None:  # type: ignore[no-untyped-def]
    _, run, _ = analysed
    spec = ReportSpec.model_validate_json((run.dir / "report_spec.json").read_text())
    assert [p.question for p in spec.parts] == [
        "What do the teams want from the new remote control?",
        "What worries them?",
    ]
    assert all(p.quotes and p.theme_ids for p in spec.parts)
    # the offline engine writes no claims of its own: no Claim column anywhere
    assert all(f.claim is None for f in spec.findings)
    titles = [
        s.shapes.title.text_frame.text
        for s in Presentation(str(run.dir / "deck.pptx")).slides
        if s.shapes.title is not None
    ]
    assert titles[2:4] == [p.question for p in spec.parts]  # right after the summary
    report = (run.dir / "report.html").read_text()
    markdown = (run.dir / "report.md").read_text()
    for p in spec.parts:
        assert f"<h3>{html.escape(p.question)}</h3>" in report
        assert f"### {p.question}" in markdown


def test_every_output_says_it_was_produced_by_the_offline_engine(analysed) -> None:  # type: ignore[no-untyped-def]
    _, run, _ = analysed
    assert OFFLINE in (run.dir / "report.html").read_text().lower()
    assert OFFLINE in (run.dir / "report.md").read_text().lower()
    assert OFFLINE in json.loads((run.dir / "themes.json").read_text())["engine_note"].lower()
    assert OFFLINE in run.manifest["engine_note"].lower()
    prs = Presentation(str(run.dir / "deck.pptx"))
    for i, slide in enumerate(prs.slides):
        texts = [sh.text_frame.text for sh in slide.shapes if sh.has_text_frame]
        notes = slide.notes_slide.notes_text_frame.text if slide.has_notes_slide else ""
        assert OFFLINE in (" ".join(texts) + notes).lower(), (
            f"slide {i + 1} does not name the engine"
        )
    for data in (run.dir / "charts").glob("*.json"):
        assert OFFLINE in json.loads(data.read_text())["note"].lower()


def test_charts_were_drawn_in_the_sandbox_with_their_code_kept(analysed) -> None:  # type: ignore[no-untyped-def]
    _, run, _ = analysed
    pngs = run.charts
    assert any(p.stem == "theme_prevalence" for p in pngs)
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.with_suffix(".svg").is_file() and png.with_suffix(".py").is_file()
    # one chart per theme, each its own (not the prevalence chart again and again)
    spec = json.loads((run.dir / "report_spec.json").read_text())
    own = [t["chart_id"] for t in spec["themes"]]
    assert own == [f"theme_{k}" for k in range(1, len(own) + 1)]
    assert len({(run.dir / "charts" / f"{c}.json").read_text() for c in own}) == len(own)
    data = json.loads((run.dir / "charts" / "theme_prevalence.json").read_text())
    assert [(t["label"], t["n"], t["total"]) for t in data["themes"]] == [
        (t.label, t.n_documents, t.total_documents) for t in run.themes
    ]


def test_second_run_reuses_the_index_and_cli_prints_json(analysed, small_corpus: Path) -> None:  # type: ignore[no-untyped-def]
    project, first, _ = analysed
    proc = _workbench(
        "analyze",
        str(small_corpus),
        "-q",
        QUESTION,
        "--project",
        str(project.dir),
        "--new-run",
        "--json",
        env={"WORKBENCH_PROGRESS": "bars"},  # what a terminal gets
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    # progress bars on stderr, one per stage that works: counted ones end full
    bars = proc.stderr.replace("\r", "\n")
    assert re.search(r"\[analyze\][^\n]*100%\|[^\n]*\| 6/6 tasks", bars), bars[-2000:]
    assert re.search(r"\[index\][^\n]*\[\d\d:\d\d\]", bars)  # nothing to embed: its time
    assert re.search(r"\[charts\][^\n]*\[\d\d:\d\d\]", bars)
    for key in ("run_dir", "engine", "documents", "findings", "themes", "cost_usd"):
        assert key in summary
    assert summary["engine"] == "offline" and summary["run_dir"] != str(first.dir)
    manifest = json.loads((Path(summary["run_dir"]) / "manifest.json").read_text())
    assert manifest["index"]["unchanged_docs"] == 6 and manifest["index"]["embedded_chunks"] == 0
    assert [t["label"] for t in summary["themes"]] == [t.label for t in first.themes]
    assert "Run written to" not in proc.stdout  # --json: stdout is exactly one JSON object
