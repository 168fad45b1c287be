from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import HybridIndex, UserInputError, load_corpus
from retrieval.types import Document
from tests.retrieval.conftest import HashingEmbedder, write


def corpus(tmp_path: Path) -> list[Document]:
    folder = tmp_path / "corpus"
    write(
        folder / "billing.txt",
        "Ana: The invoice export is broken.\nBo: Refunds take two weeks.\nAna: Pricing page confuses people.\n",
    )
    write(
        folder / "onboarding.txt",
        "Cy: Signup asks for too much.\nDee: The tutorial video helped a lot when setting up the first project dashboard.\nCy: Password rules are strict.\n",
    )
    write(
        folder / "tickets.csv",
        "id,title,body,plan\n1,Export crash,CSV export crashes on big files,pro\n2,Slow search,Search takes ten seconds,free\n",
    )
    return load_corpus(folder).documents


def test_update_search_and_provenance(tmp_path: Path, fake_embedder: HashingEmbedder) -> None:
    docs = corpus(tmp_path)
    index = HybridIndex(tmp_path / "idx", fake_embedder)
    stats = index.update(docs)
    assert stats.added_docs == 4 and stats.added_chunks == len(index) == index.vector_count()
    hits = index.search("invoice broken", k=3)
    assert hits[0].doc_id == "billing"
    assert set(hits[0].ranks) <= {"bm25", "dense", "synthetic"} and "bm25" in hits[0].ranks
    assert hits[0].score > 0 and hits[0].segment_ids
    assert sorted(index.documents()) == ["billing", "onboarding", "tickets/1", "tickets/2"]
    assert index.chunks("billing")[0].doc_id == "billing"


def test_synthetic_queries_map_back_to_chunks(
    tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    index = HybridIndex(tmp_path / "idx", fake_embedder)
    index.update(corpus(tmp_path))
    hits = index.search("what did Dee say about the tutorial video", k=2, retrievers=("synthetic",))
    assert hits[0].doc_id == "onboarding"
    assert hits[0].matched_queries and "Dee" in hits[0].matched_queries[0]


def test_filters_doc_ids_and_dedupe(tmp_path: Path, fake_embedder: HashingEmbedder) -> None:
    index = HybridIndex(tmp_path / "idx", fake_embedder)
    index.update(corpus(tmp_path))
    hits = index.search("export", k=10, where={"plan": "pro"})
    assert {h.doc_id for h in hits} == {"tickets/1"}
    hits = index.search("export", k=10, where={"$or": [{"plan": "free"}, {"kind": "conversation"}]})
    assert "tickets/1" not in {h.doc_id for h in hits}
    hits = index.search("tutorial password signup", k=10, where={"speaker:Dee": True})
    assert hits and all("Dee" in h.metadata["speakers"] for h in hits)
    hits = index.search("export", k=10, doc_ids=["onboarding"])
    assert {h.doc_id for h in hits} <= {"onboarding"}
    hits = index.search("export crash", k=10, dedupe="document")
    assert len({h.doc_id for h in hits}) == len(hits)
    with pytest.raises(UserInputError):
        index.search("x", where={"plan": {"$like": "p"}})
    with pytest.raises(UserInputError):
        index.search("x", retrievers=("magic",))


def test_incremental_update_reembeds_only_changed(tmp_path: Path) -> None:
    docs = corpus(tmp_path)
    embedder = HashingEmbedder()
    index = HybridIndex(tmp_path / "idx", embedder)
    index.update(docs)
    before = embedder.encoded
    again = index.update(docs)
    assert again.unchanged_docs == 4 and embedder.encoded == before
    changed = docs[0].model_copy(update={"text": docs[0].text + "\n", "segments": docs[0].segments})
    stats = index.update([changed, *docs[1:3]])
    assert (stats.changed_docs, stats.removed_docs, stats.unchanged_docs) == (1, 1, 2)
    assert stats.embedded_chunks == 0  # same chunk texts: vectors come from the cache
    assert embedder.encoded == before
    assert "tickets/2" not in index.documents()
    assert len(index) == index.vector_count()
    assert all(h.doc_id != "tickets/2" for h in index.search("slow search ten seconds", k=10))
    # reopening reads the committed state
    reopened = HybridIndex(tmp_path / "idx", embedder)
    assert sorted(reopened.documents()) == sorted(index.documents())
    assert len(reopened) == len(index)


class ExplodingEmbedder(HashingEmbedder):
    def __init__(self, fail_on_call: int) -> None:
        super().__init__()
        self.fail_on_call = fail_on_call

    def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if self.calls + 1 == self.fail_on_call:
            self.calls += 1
            raise RuntimeError("embedder died")
        return super().encode(texts, batch_size=batch_size)


def test_failure_half_way_leaves_previous_index_usable(tmp_path: Path) -> None:
    docs = corpus(tmp_path)
    index = HybridIndex(tmp_path / "idx", HashingEmbedder())
    index.update(docs[:2])
    many = [
        d.model_copy(update={"id": f"copy{i}", "text": d.text + f" {i}"})
        for i in range(40)
        for d in docs[:1]
    ]
    broken = HybridIndex(tmp_path / "idx", ExplodingEmbedder(fail_on_call=2), embedding_cache=False)
    with pytest.raises(RuntimeError, match="embedder died"):
        broken.update(docs + many, batch_size=64)
    reopened = HybridIndex(tmp_path / "idx", HashingEmbedder())
    assert sorted(reopened.documents()) == ["billing", "onboarding"]
    assert reopened.search("invoice", k=1)[0].doc_id == "billing"
    reopened.update(docs)  # the next update removes the crashed update's vectors
    assert len(reopened) == reopened.vector_count()


def test_other_configuration_rebuilds(tmp_path: Path) -> None:
    from retrieval.index import ChunkingConfig

    docs = corpus(tmp_path)
    HybridIndex(tmp_path / "idx", HashingEmbedder()).update(docs)
    index = HybridIndex(
        tmp_path / "idx", HashingEmbedder(), chunking=ChunkingConfig(turns_per_chunk=2, overlap=0)
    )
    stats = index.update(docs)
    assert stats.added_docs + stats.changed_docs == 4
    assert len(index) == index.vector_count()
    assert all(len(c.segment_ids) <= 2 for d in index.documents() for c in index.chunks(d))


class OtherEmbedder(HashingEmbedder):
    """Same vectors' shape, another model: an index must not mix the two."""

    name = "test-other-embedder"


def test_index_records_its_embedder_and_reembeds_when_it_changes(tmp_path: Path) -> None:
    import json

    from retrieval import IndexStateError

    docs = corpus(tmp_path)
    first = HybridIndex(tmp_path / "idx", HashingEmbedder())
    first.update(docs)
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["embedder"] == {"name": "test-hashing-embedder", "dimension": 384}

    other = OtherEmbedder()
    reopened = HybridIndex(tmp_path / "idx", other)
    assert reopened.search("invoice", k=1, retrievers=("bm25",))  # no vectors involved
    with pytest.raises(IndexStateError, match="test-hashing-embedder"):
        reopened.search("invoice", k=1)  # would compare vectors of two models
    stats = reopened.update(docs)
    assert stats.changed_docs == len(docs) and stats.embedded_chunks == len(reopened)
    assert other.encoded >= len(reopened)
    assert len(reopened) == reopened.vector_count()  # the old model's vectors are gone
    assert reopened.search("invoice", k=1)[0].doc_id == "billing"
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["embedder"]["name"] == "test-other-embedder"


def test_duplicate_ids_in_update_rejected(tmp_path: Path, fake_embedder: HashingEmbedder) -> None:
    docs = corpus(tmp_path)
    with pytest.raises(UserInputError, match="twice"):
        HybridIndex(tmp_path / "idx", fake_embedder).update([docs[0], docs[0]])


def _meeting(tmp_path: Path) -> list[Document]:
    """An agenda turn naming the topic, small talk, then a long discussion of it."""
    lines = ["Pat: Today we cover the battery, the casing and the price."]
    lines += [f"Sam: Unrelated remark number {i} about lunch plans." for i in range(20)]
    lines += [
        f"Kim: The battery should last a year, point {i}, and charging the battery is slow."
        for i in range(24)
    ]
    lines += [f"Sam: Another aside {i} on the weather." for i in range(20)]
    write(tmp_path / "m" / "meeting.txt", "\n".join(lines) + "\n")
    return load_corpus(tmp_path / "m").documents


def _turns(hit: object) -> tuple[int, int]:
    ids = [int(s.rsplit("#", 1)[1]) for s in hit.segment_ids]  # type: ignore[attr-defined]
    return min(ids), max(ids)


def test_conversation_hits_are_distinct_passages_first(
    tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    from retrieval.index import PassageRanking

    docs = _meeting(tmp_path)
    index = HybridIndex(tmp_path / "idx", fake_embedder)
    index.update(docs)
    hits = index.search("battery charging", k=12, retrievers=("bm25",))
    spans = [_turns(h) for h in hits]
    gap = index.passages.gap_turns
    repeat = [
        any(max(a - y, x - b, 0) <= gap for x, y in spans[:i]) for i, (a, b) in enumerate(spans)
    ]
    assert repeat.count(False) >= 3  # the agenda and two places of the discussion
    # a window near one already shown never comes before a new place
    assert repeat == sorted(repeat)
    # the discussion itself comes first, not the agenda turn that only names the topic
    assert 21 <= _turns(hits[0])[0] <= 44
    # without passage ordering the same query returns overlapping windows of one place
    plain = HybridIndex(
        tmp_path / "idx", fake_embedder, passages=PassageRanking(context=0.0, distinct=0)
    )
    top = [_turns(h) for h in plain.search("battery charging", k=4, retrievers=("bm25",))]
    assert any(max(a - y, x - b, 0) <= 4 for i, (a, b) in enumerate(top) for x, y in top[:i])
    # `distinct=0` for one call: plain score order (with the neighbour context)
    scored = index.search("battery charging", k=12, retrievers=("bm25",), distinct=0)
    assert [h.score for h in scored] == sorted((h.score for h in scored), reverse=True)
    assert {h.chunk_id for h in scored} == {h.chunk_id for h in hits}
    # every hit is still returned exactly once, the same set as without the ordering
    everything = plain.search("battery charging", k=50, retrievers=("bm25",))
    assert {h.chunk_id for h in hits} == {h.chunk_id for h in everything}
    assert len({h.chunk_id for h in hits}) == len(hits)


def test_update_reports_progress_in_chunks(
    tmp_path: Path, fake_embedder: HashingEmbedder, sample_corpus: Path
) -> None:
    """Three meetings (hundreds of chunks, one batch of documents): progress moves within
    the batch, ends at the total, and the index is the same as one built without it."""
    wanted = ("ES2002a", "IS1000a", "TS3005a")
    docs = [d for d in load_corpus(sample_corpus).documents if d.id in wanted]
    seen: list[tuple[int, int]] = []
    index = HybridIndex(tmp_path / "idx", fake_embedder)
    stats = index.update(docs, progress=lambda done, total: seen.append((done, total)))
    total = stats.added_chunks
    assert total > 3 * 64 and seen[0] == (0, total) and seen[-1] == (total, total)
    assert {t for _, t in seen} == {total}
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and len(set(dones)) >= 4  # it moved before the end
    plain = HybridIndex(tmp_path / "plain", HashingEmbedder())
    plain.update(docs)
    query = "what about the battery and the price"
    assert [h.chunk_id for h in index.search(query, k=8)] == [
        h.chunk_id for h in plain.search(query, k=8)
    ]
    seen.clear()
    index.update(docs, progress=lambda done, total: seen.append((done, total)))
    assert seen == []  # nothing changed: nothing to report
