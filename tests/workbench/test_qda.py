"""The run for the researcher's own tools: REFI-QDA out, codebook out and back in, and a
run scored against a coding, on the real end-to-end run of the sample meetings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exports.qdpx import read_qdpx
from subagents.codebook import load_codebook
from tests.exports.test_qdpx import validate
from workbench.core.settings import AnalysisSettings, Settings
from workbench.runs.corpus import Corpus

PDPILOT = Path(__file__).resolve().parents[2].parent / "shared/bench/coded-interviews/pdpilot"


def _workbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_every_finished_run_writes_a_valid_qdpx_that_round_trips(
    analysed, small_corpus: Path
) -> None:  # type: ignore[no-untyped-def]
    import zipfile

    _, run, _ = analysed
    assert run.summary()["outputs"]["qdpx"].endswith("project.qdpx")
    path = run.dir / "project.qdpx"
    validate(zipfile.ZipFile(path).read("project.qde"))
    project = read_qdpx(path)
    docs = Corpus.load(small_corpus).by_id()
    assert {s.name for s in project.sources} == set(docs)
    assert all(s.text == docs[s.name].text for s in project.sources)
    # themes > codes, in the run's order; then what fit no theme
    names = [c.name for c in project.codes]
    assert names[: len(run.themes)] == [t.label for t in run.themes]
    # every finding's quote is a selection at its exact offsets, coded with its theme
    paths = project.code_paths()
    coded = {}
    for src in project.sources:
        for sel in src.selections:
            coded[(src.name, sel.start, sel.end)] = (paths[sel.code_guids[0]], sel)
    theme_of = {fid: t.label for t in run.themes for fid in t.finding_ids}
    for f in run.findings:
        ev = f.evidence[0]
        label, sel = coded[(f.doc_id, ev.start_char, ev.end_char)]
        assert docs[f.doc_id].text[ev.start_char : ev.end_char] == ev.quote
        assert label.split(" > ")[0] == theme_of.get(f.id, "Other (fits no theme)")
        assert f"Speaker: {ev.speaker}" in sel.description
        assert run.id in sel.note and f.claim in sel.note
    assert run.id in project.note


def test_export_commands_and_the_run_scored_against_its_own_coding(
    analysed, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, run, _ = analysed
    proc = _workbench("export", "qdpx", str(run.dir), "--out", str(tmp_path / "again.qdpx"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "again.qdpx").read_bytes() == (run.dir / "project.qdpx").read_bytes()
    proc = _workbench("export", "codebook", str(run.dir), "--out", str(tmp_path / "book.csv"))
    assert proc.returncode == 0, proc.stderr
    book = load_codebook(tmp_path / "book.csv")
    assert [c.code for c in book.roots()] == [t.label for t in run.themes]
    proc = _workbench("export", "codebook", str(run.dir), "--out", str(tmp_path / "book.qdc"))
    assert proc.returncode == 0, proc.stderr
    validate((tmp_path / "book.qdc").read_bytes(), "codebook")
    from exports.qdc import read_codebook_file

    assert [c.name for c in read_codebook_file(tmp_path / "book.qdc")] == [
        c.code for c in book.roots()
    ]
    # a run agrees with itself exported as a researcher's coding
    proc = _workbench("eval", "coding", str(run.dir), str(run.dir / "project.qdpx"), "--json")
    assert proc.returncode == 0, proc.stderr
    score = json.loads(proc.stdout)
    assert score["evidence_precision"] == 1.0 and score["hm_purity"] == 1.0
    for code, m in score["per_code"].items():
        if code in {t.label for t in run.themes}:
            assert m["precision"] == 1.0 and m["recall"] == 1.0, code
    proc = _workbench("eval", "coding", str(run.dir), str(tmp_path / "nope.qdpx"))
    assert proc.returncode == 2 and "not found" in proc.stderr


def test_codes_json_coding_scores_evidence_and_per_code(
    analysed, small_corpus: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, run, _ = analysed
    t0 = run.themes[0]
    fmap = {f.id: f for f in run.findings}
    first = fmap[t0.finding_ids[0]]
    coded = tmp_path / "codes.json"
    coded.write_text(
        json.dumps(
            {
                "interviewer_speakers": [],
                "codes": [
                    {
                        "code": "Wanted > Hit",
                        "doc": first.doc_id,
                        "segment": first.evidence[0].quote,
                    },
                    {"code": "Missed", "doc": first.doc_id, "segment": "words nobody ever said"},
                ],
            }
        )
    )
    from workbench.evaluation.coding import evaluate_coding

    spoken = json.loads(coded.read_text())
    spoken["interviewer_speakers"] = [first.evidence[0].speaker]
    (tmp_path / "spoken.json").write_text(json.dumps(spoken))
    asked = evaluate_coding(run.dir, tmp_path / "spoken.json", participants_only=True)
    by_them = [f for f in run.findings if f.evidence[0].speaker == first.evidence[0].speaker]
    assert asked["themed_findings"] == sum(
        1 for t in run.themes for i in t.finding_ids if i not in {f.id for f in by_them}
    )
    score = evaluate_coding(run.dir, coded, min_docs=1)
    assert score["coded_segments_located"] == "1/2"
    assert score["code_recall"] == 0.5 and score["codes_scored"] == 2
    hit = score["per_code"]["Wanted"]
    assert hit["recall"] == 1.0 and hit["segments"] == 1
    n_themed = sum(len(t.finding_ids) for t in run.themes)
    assert score["themed_findings"] == n_themed
    assert score["evidence_precision"] == pytest.approx(
        sum(1 for f in run.findings if f.evidence[0].quote in first.evidence[0].quote
            and f.doc_id == first.doc_id and any(f.id in t.finding_ids for t in run.themes)) / n_themed,
        abs=1e-3,
    )  # fmt: skip


@pytest.mark.slow
def test_a_deductive_run_takes_back_the_codebook_an_inductive_run_wrote(
    analysed, small_corpus: Path
) -> None:  # type: ignore[no-untyped-def]
    project, run, _ = analysed
    book_path = run.dir / "codebook.yaml"
    book = load_codebook(book_path)
    import workbench as wb

    deductive = wb.Project(
        project.dir, settings=Settings(analysis=AnalysisSettings(codebook=str(book_path)))
    )
    run2 = deductive.analyze(small_corpus, run.question)
    assert run2.status == "complete" and run2.id != run.id
    roots = [c.code for c in book.roots()]
    assert sorted(t.label for t in run2.themes) == sorted(roots)
    assert "deductive coding" in run2.synthesis.method
    manifest = json.loads((run2.dir / "manifest.json").read_text())
    assert "codebook" in manifest["engine_note"]  # so `export qdpx` says so too
    assert all(c.label in {k.code for k in book.codes} for t in run2.themes for c in t.codes)
    fmap = {f.id: f for f in run2.findings}
    for t in run2.themes:
        assert t.n_documents == len({fmap[i].doc_id for i in t.finding_ids})
    assert all(
        "candidate code: not in the codebook" in c.flags for c in run2.synthesis.candidate_codes
    )


def test_a_bad_codebook_is_a_user_error(tmp_path: Path, small_corpus: Path) -> None:
    bad = tmp_path / "book.csv"
    bad.write_text("name\nX\n")
    proc = _workbench("analyze", str(small_corpus), "-q", "what?", "--project", str(tmp_path),
                      "--codebook", str(bad), "--engine", "offline")  # fmt: skip
    assert proc.returncode == 2 and "no 'code' column" in proc.stderr
    proc = _workbench("analyze", str(small_corpus), "-q", "what?", "--project", str(tmp_path),
                      "--codebook", str(tmp_path / "missing.yaml"))  # fmt: skip
    assert proc.returncode == 2 and "codebook not found" in proc.stderr


@pytest.mark.skipif(not PDPILOT.is_dir(), reason="needs ../shared (the PDPilot study)")
def test_scores_match_the_benchmark_scorer(analysed) -> None:  # type: ignore[no-untyped-def]
    """Optional: on the same run and coding, our measures equal score_themes.py's."""
    from workbench.evaluation.coding import evaluate_coding

    _, run, _ = analysed
    ours = evaluate_coding(run.dir, PDPILOT / "codes.json")
    proc = subprocess.run(
        [sys.executable, str(PDPILOT.parent.parent / "score_themes.py"), str(run.dir), str(PDPILOT)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    theirs = json.loads(proc.stdout)
    for key, value in theirs.items():
        assert ours[key] == value, key
