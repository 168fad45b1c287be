"""Ranking documents (files) rather than chunks: "which files is this issue about?".

Per retriever, a document's score is its best chunk's score plus a share of its next
best chunks' (a file that matches in several places beats one lucky chunk); the
per-retriever document rankings are then fused by reciprocal rank fusion.

Code-navigation prior: a test file is evidence about the module it tests rather than an
answer itself. A test file's own score is scaled by `test_weight`, and it passes
`subject_credit` of its score to its subject, the non-test file with the same name
(`testing/test_fixtures.py` and `testing/python/fixtures.py` -> `.../fixtures.py`).
The prior only touches documents of kind "code"; set both to 1.0 / 0.0 to switch it off.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retrieval.types import Hit

if TYPE_CHECKING:
    from retrieval.index import HybridIndex

_TEST_DIRS = {"test", "tests", "testing", "__tests__", "spec", "specs"}
_TEST_NAME = re.compile(r"^(?:test_.+|.+_test|.+_tests|conftest|.+\.test|.+\.spec)$")


@dataclass(frozen=True)
class DocumentRanking:
    """How chunk rankings become one ranking of documents.

    Chosen on the repo-nav dev items by split halves (the values picked on either half
    were the same but for `rrf_k`, 10 or 20), as a method, not per item: a file is
    mostly its best chunk (`extra_chunk_weight` 0.1: a large file's many weak matches
    should not outweigh a small file's strong one); `rrf_k` 20, not the 60 meant for long
    lists of chunks, because a few hundred files are ranked and the first ranks of each
    retriever are the evidence; `structure_weight`: the files that define the names a
    query mentions (`retrieval.codemap`), one more ranking in the fusion (0 switches it
    off). `BEFORE_STRUCTURE` keeps the earlier values for comparisons.
    """

    depth: int = 200  # chunks taken from each retriever before aggregating
    extra_chunks: int = 3  # next-best chunks that add to a document's score
    extra_chunk_weight: float = 0.1
    test_weight: float = 0.3
    subject_credit: float = 0.7
    rrf_k: float = 20.0
    structure_weight: float = 1.5


# the document ranking before the code map and the fusion above (for before/after figures)
BEFORE_STRUCTURE = DocumentRanking(extra_chunk_weight=0.3, rrf_k=60.0, structure_weight=0.0)


def is_test_path(path: str) -> bool:
    parts = path.split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    return any(p in _TEST_DIRS for p in parts[:-1]) or bool(_TEST_NAME.match(stem))


def subject_name(path: str) -> str:
    parts = path.split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    if stem == "__init__" and len(parts) > 1:
        stem = parts[-2]
    for prefix in ("test_",):
        stem = stem.removeprefix(prefix)
    for suffix in ("_tests", "_test", ".test", ".spec"):
        stem = stem.removesuffix(suffix)
    return stem


def _subjects(index: HybridIndex) -> dict[str, list[str]]:
    """test document id -> the non-test code documents it is about (by name)."""
    code = [d for d in index.documents() if _kind(index, d) == "code"]
    by_name: dict[str, list[str]] = {}
    for d in code:
        if not is_test_path(d):
            by_name.setdefault(subject_name(d), []).append(d)
    return {d: by_name.get(subject_name(d), []) for d in code if is_test_path(d)}


def _kind(index: HybridIndex, doc_id: str) -> str | None:
    chunks = index.chunks(doc_id)
    return str(chunks[0].metadata.get("kind")) if chunks else None


def _allowed_documents(
    index: HybridIndex, doc_ids: list[str] | None, where: dict[str, Any] | None
) -> set[str]:
    from retrieval.filters import matches

    docs = index.documents() if doc_ids is None else doc_ids
    if not where:
        return set(docs)
    return {d for d in docs if any(matches(c.metadata, where) for c in index.chunks(d))}


def rank_documents(
    index: HybridIndex,
    query: str,
    *,
    k: int = 10,
    doc_ids: list[str] | None = None,
    where: dict[str, Any] | None = None,
    retrievers: Sequence[str] = ("bm25", "dense", "synthetic", "structure"),
    options: DocumentRanking | None = None,
) -> list[Hit]:
    opt = options or DocumentRanking()
    chunk_retrievers = [r for r in retrievers if r != "structure"]
    ranked, matched = (
        index.ranked(
            query, depth=opt.depth, doc_ids=doc_ids, where=where, retrievers=chunk_retrievers
        )
        if chunk_retrievers
        else ({}, {})
    )
    subjects = _subjects(index) if opt.test_weight != 1.0 or opt.subject_credit else {}
    allowed = set(doc_ids) if doc_ids is not None else None
    best_row: dict[str, int] = {}
    fused: dict[str, float] = {}
    doc_ranks: dict[str, dict[str, int]] = {}
    for name, pairs in ranked.items():
        per_doc: dict[str, list[float]] = {}
        for row, score in pairs:
            doc = index.entry_chunk(row).doc_id
            best_row.setdefault(doc, row)
            per_doc.setdefault(doc, []).append(score)
        scores = {
            d: s[0] + opt.extra_chunk_weight * sum(s[1 : 1 + opt.extra_chunks])
            for d, s in per_doc.items()
        }
        adjusted = dict(scores)
        for d, s in scores.items():
            if d in subjects:
                adjusted[d] = s * opt.test_weight
                for subject in subjects[d]:
                    if allowed is None or subject in allowed:
                        adjusted[subject] = max(
                            adjusted.get(subject, 0.0),
                            scores.get(subject, 0.0),
                            s * opt.subject_credit,
                        )
        order = sorted(adjusted, key=lambda d: -adjusted[d])
        weight = index.weights.get(name, 1.0)
        for rank, d in enumerate(order, start=1):
            fused[d] = fused.get(d, 0.0) + weight / (opt.rrf_k + rank)
            doc_ranks.setdefault(d, {})[name] = rank
    if "structure" in retrievers and opt.structure_weight > 0:
        allowed_docs = _allowed_documents(index, doc_ids, where)
        order = [d for d, _ in index.code_map().rank(query) if d in allowed_docs]
        for rank, d in enumerate(order, start=1):
            fused[d] = fused.get(d, 0.0) + opt.structure_weight / (opt.rrf_k + rank)
            doc_ranks.setdefault(d, {})["structure"] = rank
    hits: list[Hit] = []
    for d in sorted(fused, key=lambda d: -fused[d])[:k]:
        best = best_row.get(d)
        chunk = index.entry_chunk(best) if best is not None else index.chunks(d)[0]
        hits.append(
            Hit(
                chunk_id=chunk.id,
                doc_id=d,
                score=fused[d],
                text=chunk.text,
                segment_ids=chunk.segment_ids,
                ranks=doc_ranks[d],
                matched_queries=matched.get(best, []) if best is not None else [],
                metadata=chunk.metadata,
            )
        )
    return hits
