from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval import UserInputError
from retrieval.eval import _span_metrics, evaluate, include_folders
from retrieval.types import Hit
from tests.retrieval.conftest import HashingEmbedder, write


def _hit(doc: str, turns: range) -> Hit:
    return Hit(
        chunk_id=f"{doc}@x",
        doc_id=doc,
        score=1.0,
        text="",
        segment_ids=[f"{doc}#{t}" for t in turns],
    )


def test_turn_budget_counts_each_turn_once_and_cuts_a_crossing_chunk() -> None:
    gold = set(range(10, 20))
    hits = [
        _hit("m", range(0, 6)),
        _hit("m", range(4, 10)),
        _hit("other", range(0, 20)),
        _hit("m", range(10, 40)),
    ]
    out = _span_metrics(hits, "m", gold, "")
    # budget @1 = 8 turns: 0..7 of m -> no gold
    assert out["hit@1"] == 0.0
    # @5 = 40 turns: m 0..9 (10), other 0..19 (20), then m 10..19 (10) -> all gold
    assert out["turn_recall@5"] == 1.0 and out["hit@5"] == 1.0
    assert out["MRR"] == pytest.approx(1 / 4)


def test_include_folders_read_from_the_bench_text() -> None:
    bench = {
        "corpus": {"how": "pip download x (sdist; index the src/ and testing/ folders, paths ...)"}
    }
    assert include_folders(bench) == ["src", "testing"]
    assert include_folders({"corpus": {"how": "the JSON files"}}) is None


def _meeting(turns: list[tuple[str, str]]) -> str:
    return json.dumps({"meeting_transcripts": [{"speaker": s, "content": c} for s, c in turns]})


def test_evaluate_span_and_file_benches_return_the_issue_shape(tmp_path: Path) -> None:
    corpus = tmp_path / "meetings"
    filler = [("A", f"general chatter number {i} about nothing much") for i in range(30)]
    turns = [
        *filler[:12],
        ("B", "the battery life of the remote is too short"),
        ("C", "batteries should last a year"),
        *filler[12:],
    ]
    write(corpus / "M1a.json", _meeting(turns))
    write(
        corpus / "M1b.json",
        _meeting([("A", "we talked about colours and fruit shapes")] * 3 + filler[:5]),
    )
    bench = tmp_path / "spans.json"
    bench.write_text(json.dumps({
        "name": "t", "corpus": {"meetings": ["M1a", "M1b"]}, "metrics": "budgeted by turns",
        "items": [{"id": "1", "meeting": "M1a", "query": "battery life of the remote", "gold_turn_spans": [[12, 13]]}],
    }))  # fmt: skip
    result = evaluate(
        bench, corpus, index_dir=tmp_path / "idx", index_options={"embedder": HashingEmbedder()}
    )
    assert set(result) == {"fused", "bm25", "dense", "synthetic"}
    assert result["fused"]["hit@1"] == 1.0 and result["bm25"]["turn_recall@5"] == 1.0
    assert "corpus_hit@5" in result["fused"]

    repo = tmp_path / "sdist" / "proj-1.0"
    write(
        repo / "src" / "proj" / "parser.py",
        "def parse_header(line):\n    '''Parse one header line.'''\n    return line.split(':')\n",
    )
    write(repo / "src" / "proj" / "render.py", "def render_page(page):\n    return page.html\n")
    write(
        repo / "testing" / "test_parser.py",
        "from proj.parser import parse_header\n\ndef test_parse_header():\n    assert parse_header('a: b')\n",
    )
    write(repo / "doc" / "changelog.md", "Fixed parse header splitting.")
    files_bench = tmp_path / "files.json"
    files_bench.write_text(json.dumps({
        "name": "f", "corpus": {"how": "index the src/ and testing/ folders"}, "metrics": "R@5, MRR",
        "items": [{"id": "1", "query": "Fixed header line parsing", "gold_files": ["src/proj/parser.py"]}],
    }))  # fmt: skip
    result = evaluate(
        files_bench,
        tmp_path / "sdist",
        index_dir=tmp_path / "idx2",
        index_options={"embedder": HashingEmbedder()},
    )
    assert result["bm25"]["MRR"] == 1.0 and result["fused"]["R@5"] == 1.0


def test_bad_bench_file_is_a_user_error(tmp_path: Path) -> None:
    bad = write(tmp_path / "b.json", '{"items": []}')
    with pytest.raises(UserInputError, match="items"):
        evaluate(bad, tmp_path)
