from __future__ import annotations

from pathlib import Path

from retrieval import chunk_documents, load_corpus
from retrieval.chunking import search_text
from tests.retrieval.conftest import SAMPLES, write


def test_conversation_windows_overlap_and_keep_exact_offsets() -> None:
    doc = next(d for d in load_corpus(SAMPLES).documents if d.id == "ES2002a")
    chunks = chunk_documents([doc], turns_per_chunk=6, overlap=2)
    assert chunks[0].id == "ES2002a@0-5" and chunks[1].id == "ES2002a@4-9"
    assert chunks[-1].segment_ids[-1] == doc.segments[-1].id
    covered = {s for c in chunks for s in c.segment_ids}
    assert covered == {s.id for s in doc.segments}
    for c in chunks:
        assert doc.text[c.start_char : c.end_char] == c.text
        first = doc.segment(c.segment_ids[0])
        assert c.text.startswith(f"{first.speaker}: ")
        assert c.metadata["doc_id"] == "ES2002a" and c.metadata["series"] == "ES2002"


def test_timestamps_carry_into_chunks(tmp_path: Path) -> None:
    lines = "".join(f"[00:00:{i:02d}] S{i % 2}: line {i}\n" for i in range(10))
    write(tmp_path / "t.txt", lines)
    chunks = chunk_documents(load_corpus(tmp_path).documents, turns_per_chunk=4, overlap=1)
    assert chunks[0].start_time == 0.0 and chunks[0].end_time == 4.0
    assert chunks[1].start_time == 3.0


def test_code_chunks_are_symbols_with_path_and_names(tmp_path: Path) -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(70))
    write(
        tmp_path / "pkg" / "mod.py",
        f"import os\n\n\nclass Big:\n    '''A big class.'''\n\n    def alpha(self):\n{body}\n\n    def beta(self):\n        return 2\n\n\ndef free():\n    return 3\n",
    )
    doc = load_corpus(tmp_path).documents[0]
    chunks = chunk_documents([doc])
    symbols = [c.metadata.get("symbols") for c in chunks]
    assert "Big.alpha" in symbols and "free" in symbols
    alpha = next(c for c in chunks if c.metadata.get("symbols") == "Big.alpha")
    assert alpha.metadata["class"] == "Big" and alpha.metadata["start_line"] == 7
    assert "pkg/mod.py" in search_text(alpha) and "class Big" in search_text(alpha)
    for c in chunks:
        assert doc.text[c.start_char : c.end_char] == c.text


def test_ticket_chunks_are_field_aware(tmp_path: Path) -> None:
    import json

    comments = [{"author": f"u{i}", "body": f"comment {i}"} for i in range(5)]
    write(
        tmp_path / "t.jsonl",
        json.dumps({"id": 1, "title": "Slow", "body": "Very slow", "comments": comments}) + "\n",
    )
    chunks = chunk_documents(load_corpus(tmp_path).documents)
    assert chunks[0].text.startswith("Title: Slow") and "Body: Very slow" in chunks[0].text
    assert [len(c.segment_ids) for c in chunks] == [2, 3, 2]
    assert search_text(chunks[2]).startswith("Slow\n")
