"""Retrieval evaluation on benchmark files in the format of `shared/bench/*.json`.

A bench file has `name`, `task`, `corpus` (how to obtain it), `metrics` (their
definitions, in words), and `items`. Two item shapes are understood:

- file ranking: `{"query", "gold_files": [paths]}`. Hits are reduced to distinct files in
  rank order; metrics R@k (fraction of gold files in the top k files), hit@k (any gold
  file in the top k) and MRR (reciprocal rank of the first gold file).
- turn spans: `{"query", "meeting", "gold_turn_spans": [[a, b], ...]}` (inclusive, 0-based
  turn indexes of the meeting's transcript). Budgeted by turns: @k is a budget of 8*k
  turns filled by taking the retrieved chunks in rank order, each turn counted once, a
  chunk crossing the budget counting only up to it. turn_recall@k = fraction of gold
  turns inside the budget, hit@k = at least one gold turn inside it, MRR = reciprocal
  rank of the first chunk with a gold turn. Searched within the named meeting (the
  target; keys `hit@5`, ...) and over the whole corpus (keys prefixed `corpus_`).

`evaluate()` returns {"fused": {...}, "bm25": {...}, "dense": {...}, "synthetic": {...}}
(and "structure" for file ranking, see `retrieval.codemap`), each a map of metric name to
value; `compare` adds file-ranking runs with other `DocumentRanking` options.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.errors import UserInputError
from retrieval.types import Hit

if TYPE_CHECKING:
    from retrieval.docrank import DocumentRanking

RUNS: dict[str, tuple[str, ...]] = {
    "fused": ("bm25", "dense", "synthetic", "structure"),
    "bm25": ("bm25",),
    "dense": ("dense",),
    "synthetic": ("synthetic",),
    "structure": ("structure",),  # files only: the files defining the names asked about
}
CHUNK_RETRIEVERS = ("bm25", "dense", "synthetic")
TURNS_PER_K = 8
KS = (1, 5, 10)


def load_bench(path: Path) -> dict[str, Any]:
    try:
        bench = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserInputError(
            f"{path}: cannot read the bench file ({exc.strerror or exc})."
        ) from exc
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}.") from exc
    if (
        not isinstance(bench, dict)
        or not isinstance(bench.get("items"), list)
        or not bench["items"]
    ):
        raise UserInputError(f"{path}: a bench file needs a non-empty 'items' list.")
    first = bench["items"][0]
    if "query" not in first or not ("gold_files" in first or "gold_turn_spans" in first):
        raise UserInputError(
            f"{path}: items need 'query' and either 'gold_files' or 'gold_turn_spans' (+ 'meeting')."
        )
    return bench


def include_folders(bench: dict[str, Any]) -> list[str] | None:
    """Folders the bench says to index ("index the src/ and testing/ folders"), if it says."""
    how = str((bench.get("corpus") or {}).get("how", ""))
    m = re.search(r"index the (.+?) folders?", how)
    if not m:
        return None
    names = re.split(r",\s*|\s+and\s+", m.group(1))
    folders = [n.strip().strip("`'\"").strip("/") for n in names if n.strip().strip("`'\"/")]
    return folders or None


def resolve_corpus(corpus: Path, include: list[str] | None, workdir: Path) -> Path:
    """A folder to load: unpacks an sdist tarball, descends into a single top folder."""
    corpus = Path(corpus)
    if not corpus.exists():
        raise UserInputError(f"{corpus}: corpus not found.")
    if corpus.is_file() and corpus.name.endswith((".tar.gz", ".tgz", ".tar")):
        target = workdir / "corpus"
        if not target.exists():
            with tarfile.open(corpus) as tar:
                tar.extractall(target, filter="data")
        corpus = target
    if corpus.is_dir() and include and not any((corpus / f).exists() for f in include):
        subdirs = [p for p in corpus.iterdir() if p.is_dir()]
        if len(subdirs) == 1:
            corpus = subdirs[0]
    return corpus


def default_index_dir(bench: dict[str, Any], corpus: Path) -> Path:
    base = Path(os.environ.get("WORKBENCH_CACHE", Path.home() / ".cache" / "research-workbench"))
    ident = hashlib.sha256(f"{corpus.resolve()}|{bench.get('name')}".encode()).hexdigest()[:16]
    return base / "eval-index" / ident


def _file_metrics(ranked_files: list[str], gold: set[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in KS:
        top = set(ranked_files[:k])
        out[f"R@{k}"] = len(top & gold) / len(gold) if gold else 0.0
        out[f"hit@{k}"] = 1.0 if top & gold else 0.0
    rank = next((i for i, f in enumerate(ranked_files, start=1) if f in gold), None)
    out["MRR"] = 1.0 / rank if rank else 0.0
    return out


def turn_index(segment_id: str) -> int:
    return int(segment_id.rsplit("#", 1)[1])


def _span_metrics(hits: list[Hit], meeting: str, gold: set[int], prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    first_rank = next(
        (r for r, h in enumerate(hits, start=1)
         if h.doc_id == meeting and any(turn_index(s) in gold for s in h.segment_ids)),
        None,
    )  # fmt: skip
    for k in KS:
        budget = TURNS_PER_K * k
        counted: set[tuple[str, int]] = set()
        found: set[int] = set()
        for hit in hits:
            for seg in hit.segment_ids:
                key = (hit.doc_id, turn_index(seg))
                if key in counted:
                    continue
                if len(counted) >= budget:
                    break
                counted.add(key)
                if hit.doc_id == meeting and key[1] in gold:
                    found.add(key[1])
            if len(counted) >= budget:
                break
        out[f"{prefix}turn_recall@{k}"] = len(found) / len(gold) if gold else 0.0
        out[f"{prefix}hit@{k}"] = 1.0 if found else 0.0
    out[f"{prefix}MRR"] = 1.0 / first_rank if first_rank else 0.0
    return out


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {key: round(sum(r[key] for r in rows) / len(rows), 4) for key in rows[0]}


def evaluate(
    bench_path: Path | str,
    corpus_path: Path | str,
    *,
    index_dir: Path | str | None = None,
    runs: Sequence[str] = tuple(RUNS),
    limit: int | None = None,
    whole_corpus: bool = True,
    progress: Callable[[str], None] | None = None,
    index_options: dict[str, Any] | None = None,
    index_progress: Callable[[int, int], None] | None = None,
    compare: dict[str, DocumentRanking] | None = None,
) -> dict[str, dict[str, float]]:
    """Run the bench's queries against an index of the corpus; metrics per retriever and fused.

    The index is persistent (`index_dir`, default under ~/.cache/research-workbench or
    $WORKBENCH_CACHE) and updated incrementally, so a second run only embeds what changed.
    `limit` evaluates the first n items (quick checks).
    """
    from retrieval.index import HybridIndex
    from retrieval.loaders import load_corpus

    bench = load_bench(Path(bench_path))
    unknown = [r for r in runs if r not in RUNS]
    if unknown:
        raise UserInputError(f"unknown runs {unknown}; choose from {list(RUNS)}")
    items = bench["items"][:limit] if limit else bench["items"]
    include = include_folders(bench)
    say = progress or (lambda _msg: None)
    with tempfile.TemporaryDirectory(prefix="wb-eval-") as tmp:
        corpus = resolve_corpus(Path(corpus_path), include, Path(tmp))
        report = load_corpus(corpus, include=include, on_error="skip")
        docs = report.documents
        wanted = (bench.get("corpus") or {}).get("meetings")
        if isinstance(wanted, list) and wanted:
            keep = set(wanted)
            docs = [d for d in docs if d.id in keep] or docs
        directory = Path(index_dir) if index_dir else default_index_dir(bench, corpus)
        index = HybridIndex(directory, **(index_options or {}))
        say(f"indexing {len(docs)} documents into {directory}")
        stats = index.update(docs, progress=index_progress)
        say(f"index: {stats.as_dict()}")
        is_files = "gold_files" in items[0]
        results: dict[str, dict[str, float]] = {}
        for run in runs:
            retrievers = (
                RUNS[run] if is_files else tuple(r for r in RUNS[run] if r in CHUNK_RETRIEVERS)
            )
            if not retrievers:
                continue  # "structure" ranks files, not passages
            rows: list[dict[str, float]] = []
            for item in items:
                if is_files:
                    rows.append(_eval_files(index, item, retrievers))
                else:
                    rows.append(_eval_spans(index, item, retrievers, whole_corpus))
            results[run] = _mean(rows)
            say(f"{run}: {results[run]}")
        for name, options in (compare or {}).items() if is_files else ():
            rows = [_eval_files(index, item, RUNS["fused"], options) for item in items]
            results[name] = _mean(rows)
            say(f"{name}: {results[name]}")
        return results


def _eval_files(
    index: Any,
    item: dict[str, Any],
    retrievers: tuple[str, ...],
    options: DocumentRanking | None = None,
) -> dict[str, float]:
    hits = index.rank_documents(item["query"], k=50, retrievers=retrievers, options=options)
    files = [h.doc_id for h in hits]
    return _file_metrics(files, set(item["gold_files"]))


def _eval_spans(
    index: Any, item: dict[str, Any], retrievers: tuple[str, ...], whole_corpus: bool
) -> dict[str, float]:
    gold: set[int] = set()
    for a, b in item["gold_turn_spans"]:
        gold.update(range(int(a), int(b) + 1))
    meeting = str(item["meeting"])
    depth = TURNS_PER_K * max(KS)
    hits = index.search(item["query"], k=depth, doc_ids=[meeting], retrievers=retrievers)
    out = _span_metrics(hits, meeting, gold, "")
    if whole_corpus:
        hits = index.search(item["query"], k=depth, retrievers=retrievers)
        out.update(_span_metrics(hits, meeting, gold, "corpus_"))
    return out
