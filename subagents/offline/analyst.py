"""The extractive analyst: the offline implementation of the interview/ticket analysts.

For one document and one question it retrieves the relevant segments through the
injected search, scores their sentences against the question and its sub-queries,
and keeps the best, diverse, verbatim sentences as findings. It never writes text
of its own: the claim is a cleaned rendering of the quote, the quote is a character
span of the source.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from retrieval.types import Document, Hit, Segment
from subagents.findings import Evidence, Finding
from subagents.offline.sentiment import sentiment_of
from subagents.offline.text import Span, clean, content_words, sentence_spans, words

ANALYST_VERSION = "extractive-analyst/2"


class Searcher(Protocol):
    def search(self, query: str, *, k: int, doc_ids: list[str]) -> list[Hit]: ...


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class AnalystSettings:
    max_findings: int = 8
    hits_per_query: int = 10
    min_content_words: int = 4
    min_chars: int = 30
    max_chars: int = 400
    min_similarity: float = 0.2  # cosine between a sentence and the closest query
    diversity: float = 0.7  # MMR lambda: 1 = relevance only


def sub_queries(question: str) -> list[str]:
    """The question and its clauses, so a two-part question retrieves both parts."""
    parts = re.split(
        r"[?;]|,\s*(?:and|but|or)\s+|\s+and\s+(?=what|how|why|which|who|where|when)", question
    )
    queries = [question.strip()]
    for p in parts:
        p = p.strip(" ,.")
        if len(content_words(p)) >= 2 and p.lower() != question.strip().lower():
            queries.append(p)
    return queries


@dataclass
class _Candidate:
    segment: Segment
    span: Span  # offsets within the segment text
    retrieval_score: float


class ExtractiveAnalyst:
    """Finds the sentences of one document that answer a question; returns findings."""

    def __init__(
        self, searcher: Searcher, encoder: Encoder, settings: AnalystSettings | None = None
    ) -> None:
        self.searcher = searcher
        self.encoder = encoder
        self.settings = settings or AnalystSettings()

    def analyze(
        self, doc: Document, question: str, *, task_key: str, steering: Sequence[str] = ()
    ) -> list[Finding]:
        s = self.settings
        queries = sub_queries(question) + [m for m in steering if m.strip()]
        candidates = self._candidates(doc, queries)
        if not candidates:
            return []
        texts = [clean(c.span.text) for c in candidates]
        sent_vecs = self.encoder.encode(texts)
        query_vecs = self.encoder.encode(queries)
        sims = sent_vecs @ query_vecs.T  # (n_sentences, n_queries)
        relevance = sims.max(axis=1)
        retrieval = np.array([c.retrieval_score for c in candidates])
        if retrieval.max() > 0:
            retrieval = retrieval / retrieval.max()
        # A sentence that only restates the question teaches nothing: weight by what it
        # adds (content words the question does not have) and by how fluent it is.
        asked = {w for q in queries for w in content_words(q)}
        substance = np.array([_substance(t, asked) for t in texts])
        score = (0.8 * relevance + 0.2 * retrieval * relevance) * substance
        chosen = _mmr(sent_vecs, score, relevance >= s.min_similarity, s.max_findings, s.diversity)
        findings = []
        for i in sorted(
            chosen, key=lambda j: (candidates[j].segment.index, candidates[j].span.start)
        ):
            c = candidates[i]
            seg = c.segment
            quote = c.span.text
            ev = Evidence(
                doc_id=doc.id,
                segment_id=seg.id,
                quote=quote,
                speaker=seg.speaker,
                start_time=seg.start_time,
                end_time=seg.end_time,
                start_char=seg.start_char + c.span.start,
                end_char=seg.start_char + c.span.end,
            )
            fid = hashlib.sha256(f"{task_key}|{seg.id}|{c.span.start}".encode()).hexdigest()[:16]
            findings.append(
                Finding(
                    id=fid,
                    task_key=task_key,
                    doc_id=doc.id,
                    claim=texts[i],
                    evidence=[ev],
                    confidence=round(float(np.clip((relevance[i] - 0.1) / 0.5, 0.05, 1.0)), 3),
                    sentiment=sentiment_of(quote),
                    tags=[seg.speaker] if seg.speaker else [],
                    engine="offline",
                )
            )
        return findings

    def _candidates(self, doc: Document, queries: list[str]) -> list[_Candidate]:
        s = self.settings
        by_id = {seg.id: seg for seg in doc.segments}
        seg_score: dict[str, float] = {}
        for q in queries:
            hits = self.searcher.search(q, k=s.hits_per_query, doc_ids=[doc.id])
            for rank, hit in enumerate(hits, start=1):
                for sid in hit.segment_ids:
                    seg_score[sid] = max(seg_score.get(sid, 0.0), 1.0 / (10 + rank))
        out: list[_Candidate] = []
        seen: set[str] = set()
        for sid, sc in seg_score.items():
            seg = by_id.get(sid)
            if seg is None:
                continue
            for span in sentence_spans(seg.text):
                key = clean(span.text).lower()
                if key in seen:
                    continue
                if not (s.min_chars <= len(span.text) <= s.max_chars):
                    continue
                if len(content_words(span.text)) < s.min_content_words:
                    continue
                seen.add(key)
                out.append(_Candidate(seg, span, sc))
        out.sort(key=lambda c: (c.segment.index, c.span.start))
        return out


def _substance(text: str, asked: set[str]) -> float:
    toks = words(text)
    novel = {w for w in content_words(text) if w not in asked}
    repeats = sum(1 for a, b in itertools.pairwise(toks) if a == b)
    fluency = max(0.4, 1.0 - 0.2 * repeats)
    return (0.4 + 0.6 * min(1.0, len(novel) / 5)) * fluency


def _mmr(
    vecs: np.ndarray, score: np.ndarray, eligible: np.ndarray, k: int, lam: float
) -> list[int]:
    chosen: list[int] = []
    pool = [i for i in range(len(score)) if eligible[i]]
    while pool and len(chosen) < k:
        redundancy = (vecs[pool] @ vecs[chosen].T).max(axis=1) if chosen else np.zeros(len(pool))
        mmr = lam * score[pool] - (1 - lam) * redundancy
        best = pool[int(np.argmax(mmr))]
        chosen.append(best)
        pool.remove(best)
    return chosen
