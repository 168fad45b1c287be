"""A damaged or moved index is checked against its manifest on open: repaired and said,
never a silent different answer, never a raw sqlite traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval import HybridIndex, IndexStateError
from tests.retrieval.conftest import HashingEmbedder
from tests.retrieval.test_index import corpus

QUERY = "invoice export broken"


def _built(tmp_path: Path) -> tuple[Path, list[str]]:
    index = HybridIndex(tmp_path / "idx", HashingEmbedder())
    index.update(corpus(tmp_path))
    dense = [h.chunk_id for h in index.search(QUERY, k=5, retrievers=("dense",))]
    assert dense and index.repairs == []
    index.close()
    return tmp_path / "idx", dense


def _dense(index: HybridIndex) -> list[str]:
    return [h.chunk_id for h in index.search(QUERY, k=5, retrievers=("dense",))]


def _sqlite(idx: Path) -> Path:
    return idx / "chroma" / "chroma.sqlite3"


def test_deleted_chroma_is_rebuilt_and_said(tmp_path: Path) -> None:
    idx, dense = _built(tmp_path)
    shutil.rmtree(idx / "chroma")
    index = HybridIndex(idx, HashingEmbedder())
    assert _dense(index) == dense
    assert index.vector_count() == len(index)
    assert any("vectors" in r for r in index.repairs), index.repairs


def test_truncated_chroma_database_is_rebuilt_and_said(tmp_path: Path) -> None:
    idx, dense = _built(tmp_path)
    _sqlite(idx).write_bytes(b"")  # zero length: a valid, empty database
    index = HybridIndex(idx, HashingEmbedder())
    assert _dense(index) == dense and index.repairs


def test_zeroed_chroma_database_is_rebuilt_not_a_traceback(tmp_path: Path) -> None:
    idx, dense = _built(tmp_path)
    size = _sqlite(idx).stat().st_size
    _sqlite(idx).write_bytes(bytes(size))  # same size, all zeros: not a database at all
    index = HybridIndex(idx, HashingEmbedder())
    assert _dense(index) == dense
    assert any("damaged" in r for r in index.repairs), index.repairs
    assert list(idx.glob("chroma.damaged-*")), "the damaged store is kept aside, not deleted"


def test_a_moved_index_keeps_its_vectors(tmp_path: Path) -> None:
    idx, dense = _built(tmp_path)
    moved = tmp_path / "elsewhere" / "idx"
    moved.parent.mkdir()
    shutil.move(idx, moved)
    embedder = HashingEmbedder()
    index = HybridIndex(moved, embedder)
    assert _dense(index) == dense
    assert index.repairs == [] and embedder.encoded == 1  # only the query: nothing re-embedded


def test_a_damaged_embedding_cache_is_set_aside(tmp_path: Path) -> None:
    idx, dense = _built(tmp_path)
    cache = idx / "embeddings.sqlite"
    cache.write_bytes(b"\x00garbage" * 1000)
    for side in ("-wal", "-shm"):
        Path(str(cache) + side).unlink(missing_ok=True)
    index = HybridIndex(idx, HashingEmbedder())
    assert any("embedding cache" in r for r in index.repairs), index.repairs
    index.update(corpus(tmp_path))  # the cache works again
    assert _dense(index) == dense


def test_a_damaged_document_record_is_reindexed(tmp_path: Path) -> None:
    idx, _ = _built(tmp_path)
    record = sorted((idx / "docs").glob("*.json"))[0]
    record.write_text("{ not json")
    index = HybridIndex(idx, HashingEmbedder())
    assert any(record.name in r for r in index.repairs), index.repairs
    stats = index.update(corpus(tmp_path))
    assert stats.added_docs == 1 and len(index.documents()) == 4
    assert index.vector_count() == len(index)


def test_a_damaged_manifest_rebuilds_the_index(tmp_path: Path) -> None:
    idx, dense = _built(tmp_path)
    (idx / "manifest.json").write_text("{ not json")
    index = HybridIndex(idx, HashingEmbedder())
    assert any("manifest" in r for r in index.repairs), index.repairs
    assert len(index) == 0  # says it is empty, and the next update rebuilds it
    index.update(corpus(tmp_path))
    assert _dense(index) == dense and index.vector_count() == len(index)


def test_an_index_of_a_newer_format_is_refused_not_destroyed(tmp_path: Path) -> None:
    idx, _ = _built(tmp_path)
    (idx / "manifest.json").write_text('{"format": 99, "docs": {}}')
    with pytest.raises(IndexStateError, match="format 99"):
        HybridIndex(idx, HashingEmbedder())
    assert (idx / "manifest.json").read_text() == '{"format": 99, "docs": {}}'
