"""Index build throughput, query latency at 50,000 chunks, and incremental re-index cost.

    python benchmarks/index_throughput.py --json

Prints one JSON object with:
- throughput_ratio: index build chunks/s divided by the raw embedder's chunks/s on the
  same chunk texts, measured in this run (target >= 0.9). The index build is a full
  `HybridIndex.update` on a fresh directory: chunking, tokenising, synthetic queries,
  embedding, Chroma writes, records and manifest.
- query_p50_ms_50k: median latency of a fused search (BM25 + dense + synthetic, k=10) on
  an index of >= 50,000 chunks (target < 50 ms). Embedding 50,000 chunks with MiniLM takes
  over an hour on 2 CPU cores, so the stored chunk vectors of this index come from a cheap
  stand-in (hashed bag of words); every query is still encoded by the real MiniLM and goes
  through Chroma, both BM25 indexes and the fusion, which is what the latency measures.
- incremental_ratio: time to update a 100-document index after one document changed,
  divided by the full build of those 100 documents (target < 0.05).

Corpus: the AMI meetings in <repo>/../shared/corpora/ami-meetings (samples/ami-meetings
as a fallback).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval import Embedder, HybridIndex, load_corpus  # noqa: E402
from retrieval.chunking import chunk_documents, search_text  # noqa: E402
from retrieval.index import ChunkingConfig  # noqa: E402
from retrieval.types import Document  # noqa: E402


def corpus_dir() -> Path:
    shared = ROOT.parent / "shared" / "corpora" / "ami-meetings"
    return shared if shared.is_dir() else ROOT / "samples" / "ami-meetings"


def slice_doc(doc: Document, turns: int, suffix: str) -> Document:
    """The first `turns` turns of a meeting as a document of its own."""
    segs = doc.segments[:turns]
    end = segs[-1].end_char
    return doc.model_copy(
        update={
            "id": f"{doc.id}{suffix}",
            "text": doc.text[:end],
            "segments": [s.model_copy(update={"id": f"{doc.id}{suffix}#{s.index}", "doc_id": f"{doc.id}{suffix}"}) for s in segs],
        }
    )  # fmt: skip


class StandInEmbedder:
    """Hashed bag of words for bulk chunk vectors; the real model for single queries."""

    name = "stand-in-hashing+minilm-queries"
    dimension = 384

    def __init__(self, real: Embedder) -> None:
        self.real = real

    def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if len(texts) == 1:
            return self.real.encode(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest()[:6], 16) % self.dimension] += 1
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-6)
        return out


def throughput(embedder: Embedder, docs: list[Document], work: Path) -> dict[str, float]:
    """Raw encode and full index build of the same chunks, interleaved twice.

    Interleaving (raw, build, raw, build) on fresh index directories keeps a change in
    machine load from favouring one side; the ratio is of the summed times.
    """
    chunks = chunk_documents(docs)
    texts = [search_text(c) for c in chunks]
    raw_s = build_s = 0.0
    for rep in range(2):
        t0 = time.perf_counter()
        embedder.encode(texts)
        raw_s += time.perf_counter() - t0
        index = HybridIndex(work / f"throughput{rep}", embedder)
        t0 = time.perf_counter()
        stats = index.update(docs)
        build_s += time.perf_counter() - t0
        assert stats.added_chunks == stats.embedded_chunks == len(chunks)
    return {
        "chunks": len(chunks),
        "raw_chunks_per_s": 2 * len(chunks) / raw_s,
        "index_chunks_per_s": 2 * len(chunks) / build_s,
        "throughput_ratio": raw_s / build_s,
    }


def incremental(embedder: Embedder, docs: list[Document], work: Path) -> dict[str, float]:
    index = HybridIndex(work / "incremental", embedder)
    t0 = time.perf_counter()
    index.update(docs)
    index.search("warm up the lexical indexes")
    full_s = time.perf_counter() - t0
    changed = list(docs)
    d = changed[37]
    last = d.segments[-1]
    extra = " And one more remark about the budget."
    changed[37] = d.model_copy(
        update={
            "text": d.text + extra,
            "segments": [*d.segments[:-1], last.model_copy(update={"text": last.text + extra, "end_char": last.end_char + len(extra)})],
        }
    )  # fmt: skip
    t0 = time.perf_counter()
    stats = index.update(changed)
    index.search("warm up the lexical indexes")
    inc_s = time.perf_counter() - t0
    assert stats.changed_docs == 1 and stats.unchanged_docs == len(docs) - 1
    return {"full_build_s": full_s, "incremental_s": inc_s, "incremental_ratio": inc_s / full_s}


def query_latency(
    embedder: Embedder, docs: list[Document], work: Path, target: int
) -> dict[str, float]:
    config = ChunkingConfig(turns_per_chunk=6, overlap=3)
    per_copy = len(chunk_documents(docs, turns_per_chunk=6, overlap=3))
    copies = -(-target // per_copy)
    corpus = [
        d.model_copy(update={"id": f"{d.id}-v{c}", "text": d.text + f"\n(copy {c})"})
        for c in range(copies)
        for d in docs
    ]
    index = HybridIndex(
        work / "latency", StandInEmbedder(embedder), chunking=config, embedding_cache=False
    )
    t0 = time.perf_counter()
    index.update(corpus)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    queries = []
    for d in rng.choice(len(docs), size=60):
        seg = docs[int(d)].segments[int(rng.integers(len(docs[int(d)].segments)))]
        words = seg.text.split()[:8]
        queries.append(" ".join(words) or "remote control")
    index.search(queries[0])
    times = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q, k=10)
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "chunks_50k": len(index),
        "build_50k_s": build_s,
        "query_p50_ms_50k": statistics.median(times),
        "query_p95_ms_50k": float(np.percentile(times, 95)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--only", choices=["throughput", "incremental", "latency"])
    args = parser.parse_args()
    docs = load_corpus(corpus_dir()).documents
    embedder = Embedder()
    embedder.encode(["warm up"])
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        work = Path(tmp)
        small = [slice_doc(d, 40, "") for d in docs[:10]]
        if args.only in (None, "throughput"):
            out.update(throughput(embedder, small, work))
        if args.only in (None, "incremental"):
            hundred = [slice_doc(docs[i % len(docs)], 24, f"-p{i}") for i in range(100)]
            out.update(incremental(embedder, hundred, work))
        if args.only in (None, "latency"):
            out.update(query_latency(embedder, docs, work, args.chunks))
    result = {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
