"""The offline answerer: retrieval plus extractive composition, deterministic, no model.

Hybrid retrieval for the question and its sub-queries (`subagents.offline.analyst
.sub_queries`), then: the best turn of each of the top passages (distinct places of the
conversation) first, then the best remaining turns (MMR), each trimmed to its best
sentences or clauses, put back in document order and cut to a word budget. Turns are
scored by retrieval rank and embedding similarity to the question; the answer abstains
unless some turn reaches `min_similarity`. Each answer sentence is a cleaned rendering
of one quote (markup removed), so it states nothing the quote does not say.

It returns the shared result type (`workbench.ask.answer.Answer`); `ask` runs the
citation gate (`verify_answer`) on it as on the model's answers.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from subagents.findings import is_prompt_role
from workbench.ask.answer import Answer, AnswerSentence, Citation, Scope

if TYPE_CHECKING:
    from retrieval import Document, HybridIndex


@dataclass(frozen=True)
class OfflineAskSettings:
    max_words: int = 240  # length budget of the answer (whole sentences take more words)
    hits_per_query: int = 24  # windows per sub-query (4-turn windows: ~72 turns of candidates)
    # a long turn is trimmed to its best complete sentences up to this many words; only a
    # single sentence longer than twice this is cut at its clauses
    max_quote_words: int = 18
    min_similarity: float = 0.25  # below this for every candidate: "found no evidence"
    # once something clears min_similarity, supporting turns of the retrieved passages
    # need only this much (the passages were retrieved for the question already)
    min_turn_similarity: float = 0.1
    min_content_words: int = 3  # turns with fewer content words ("Yeah, okay.") are skipped
    diversity: float = 0.75  # MMR lambda: 1 = relevance only
    spread: int = 15  # first take the best turn of each of the top `spread` passages
    sim_weight: float = 0.6  # turn score = sim_weight * similarity + rest * retrieval


_DIM = 384
_VECTORS: weakref.WeakKeyDictionary[Any, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()


@dataclass
class _Turn:
    doc_id: str
    segment_id: str
    index: int
    speaker: str | None
    start_time: float | None
    end_time: float | None
    seg_start: int  # offset of the segment in the document text
    text: str
    chunk_id: str
    retrieval: float
    rank: int  # best rank of a passage holding this turn, over all sub-queries


class OfflineAsker:
    """Retrieval plus extractive composition; deterministic, no model."""

    def __init__(
        self,
        index: HybridIndex,
        docs: Mapping[str, Document],
        settings: OfflineAskSettings | None = None,
        *,
        cache_path: Path | None = None,
    ) -> None:
        self.index = index
        self.docs = docs
        self.settings = settings or OfflineAskSettings()
        # text -> vector, shared by every asker over the same index (turns recur across questions)
        self._vectors = _VECTORS.setdefault(index, {})
        self._cache: Any = None
        if cache_path is not None:  # persistent, content-addressed: repeated asks skip encoding
            from retrieval.embcache import EmbeddingCache

            name = str(getattr(index.embedder, "name", type(index.embedder).__name__))
            self._cache = EmbeddingCache(cache_path, name, _DIM)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings of `texts`; each distinct text is encoded once (memory, then disk cache)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            if self._cache is not None:
                from retrieval.embcache import embed_with_cache

                vecs, _ = embed_with_cache(self.index.embedder.encode, self._cache, missing, _DIM)
            else:
                vecs = np.asarray(self.index.embedder.encode(missing), dtype=np.float32)
            if len(self._vectors) > 50_000:
                self._vectors.clear()
            self._vectors.update(zip(missing, vecs, strict=True))
        if not texts:
            return np.zeros((0, _DIM), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    def ask(self, question: str, scope: Scope) -> Answer:
        from subagents.offline.analyst import sub_queries

        s = self.settings
        queries = sub_queries(question)
        turns = self._candidates(queries, scope)
        answer = Answer(question=question, scope=scope, engine="offline")
        if not turns:
            answer.found = False
            return answer
        texts = [_clean(t.text) for t in turns]
        tvecs = self.encode(texts)
        qvecs = self.encode(queries)
        sim = (tvecs @ qvecs.T).max(axis=1)
        retr = np.array([t.retrieval for t in turns])
        retr = retr / retr.max() if retr.max() > 0 else retr
        score = s.sim_weight * sim + (1 - s.sim_weight) * retr
        eligible = sim >= min(s.min_turn_similarity, s.min_similarity)
        if not (sim >= s.min_similarity).any():
            answer.found = False
            answer.notes.append(
                f"best match similarity {float(sim.max()):.2f} < {s.min_similarity}: treated as no evidence"
            )
            return answer
        chosen: list[tuple[int, tuple[int, int]]] = []
        words = 0
        picked: list[int] = []

        def take(i: int) -> None:
            nonlocal words
            span = self._best_span(turns[i], qvecs)
            picked.append(i)
            if span is not None:
                chosen.append((i, span))
                words += len(turns[i].text[span[0] : span[1]].split())

        # First the best turn of each of the top-ranked passages, so the evidence covers
        # every region the retrievers agree on; then the best remaining turns (MMR).
        for rank in range(1, s.spread + 1):
            for chunk in dict.fromkeys(t.chunk_id for t in turns if t.rank == rank):
                group = [
                    i
                    for i, t in enumerate(turns)
                    if t.chunk_id == chunk and eligible[i] and i not in picked
                ]
                if group and words < s.max_words:
                    take(max(group, key=lambda i: score[i]))
        pool = [i for i in range(len(turns)) if eligible[i] and i not in picked]
        while pool and words < s.max_words:
            red = (tvecs[pool] @ tvecs[picked].T).max(axis=1) if picked else np.zeros(len(pool))
            mmr = s.diversity * score[pool] - (1 - s.diversity) * red
            best = pool[int(np.argmax(mmr))]
            pool.remove(best)
            take(best)
        # the direct answer first (the best-scoring quote), then the rest grouped by
        # document, documents in order of their best quote, turns in conversation order
        if chosen:
            lead = max(chosen, key=lambda c: score[c[0]])
            best_in: dict[str, float] = {}
            for i, _ in chosen:
                best_in[turns[i].doc_id] = max(best_in.get(turns[i].doc_id, -1.0), score[i])
            rest = sorted(
                (c for c in chosen if c is not lead),
                key=lambda c: (-best_in[turns[c[0]].doc_id], turns[c[0]].doc_id, turns[c[0]].index),
            )
            chosen = [lead, *rest]
        titles = {d: doc.title for d, doc in self.docs.items()}
        for n, (i, (a, b)) in enumerate(chosen, start=1):
            t = turns[i]
            quote = t.text[a:b]
            answer.evidence.append(
                Citation(
                    n=n,
                    doc_id=t.doc_id,
                    segment_id=t.segment_id,
                    quote=quote,
                    speaker=t.speaker,
                    start_time=t.start_time,
                    end_time=t.end_time,
                    start_char=t.seg_start + a,
                    end_char=t.seg_start + b,
                    chunk_id=t.chunk_id,
                    score=round(float(score[i]), 4),
                )
            )
            said = _clean(quote)
            said = said[0].upper() + said[1:] if said else said
            if said and said[-1] not in ".?!":
                said += "."
            prefix = f"{t.speaker}: " if t.speaker else ""
            answer.sentences.append(
                AnswerSentence(
                    text=prefix + said,
                    citations=[n],
                    group=None if n == 1 else titles.get(t.doc_id, t.doc_id),
                )
            )
        answer.found = bool(answer.sentences)
        return answer

    def _candidates(self, queries: list[str], scope: Scope) -> list[_Turn]:
        from subagents.offline.text import content_words

        s = self.settings
        seg_score: dict[str, float] = {}
        seg_chunk: dict[str, tuple[str, str]] = {}
        seg_rank: dict[str, int] = {}
        for qi, q in enumerate(queries):
            weight = 1.0 if qi == 0 else 0.5
            hits = self.index.search(
                q,
                k=s.hits_per_query,
                doc_ids=scope.doc_ids,
                where=scope.where,
                distinct=s.spread,  # the passages quoted first are distinct places
            )
            for rank, hit in enumerate(hits, start=1):
                for sid in hit.segment_ids:
                    seg_score[sid] = seg_score.get(sid, 0.0) + weight / (5 + rank)
                    if rank < seg_rank.get(sid, 1 << 30):
                        seg_rank[sid] = rank
                        seg_chunk[sid] = (hit.doc_id, hit.chunk_id)
        out: list[_Turn] = []
        for sid, sc in seg_score.items():
            doc_id, chunk_id = seg_chunk[sid]
            doc = self.docs.get(doc_id)
            if doc is None:
                continue
            try:
                seg = doc.segment(sid)
            except KeyError:
                continue
            if len(content_words(seg.text)) < s.min_content_words:
                continue
            if is_prompt_role(seg.attrs.get("role")):  # prompts, never evidence
                continue
            out.append(
                _Turn(
                    doc_id=doc_id,
                    segment_id=sid,
                    index=seg.index,
                    speaker=seg.speaker,
                    start_time=seg.start_time,
                    end_time=seg.end_time,
                    seg_start=seg.start_char,
                    text=seg.text,
                    chunk_id=chunk_id,
                    retrieval=sc,
                    rank=seg_rank[sid],
                )
            )
        out.sort(key=lambda t: (t.doc_id, t.index))
        return out

    def _best_span(self, turn: _Turn, qvecs: np.ndarray) -> tuple[int, int] | None:
        """The turn's window of consecutive complete sentences closest to the question, up
        to `max_quote_words` (a single longer sentence is cut at its clauses). Questions and
        text that recurs across documents (a guide, a template) are never quoted."""
        from subagents.offline.text import sentence_spans

        limit = self.settings.max_quote_words
        seg = self.docs[turn.doc_id].segment(turn.segment_id)
        recurring = [(int(a), int(b)) for a, b in seg.attrs.get("recurring", [])]
        spans = _clauses(sentence_spans(turn.text), 2 * limit)
        usable = [
            not sp.text.rstrip().endswith("?")
            and not any(sp.start < b and a < sp.end for a, b in recurring)
            for sp in spans
        ]
        if not any(usable):
            return None
        if all(usable) and len(turn.text[spans[0].start : spans[-1].end].split()) <= limit:
            return spans[0].start, spans[-1].end
        idx = [i for i, ok in enumerate(usable) if ok]
        vecs = self.encode([_clean(spans[i].text) for i in idx])
        rel = dict(zip(idx, (vecs @ qvecs.T).max(axis=1), strict=True))
        best: tuple[float, int, int] | None = None
        for i in idx:
            n_words = 0
            for j in range(i, len(spans)):
                if not usable[j]:
                    break
                n_words += len(spans[j].text.split())
                if n_words > limit and j > i:
                    break
                val = float(np.mean([rel[k] for k in range(i, j + 1)])) + 0.02 * (j - i)
                if best is None or val > best[0]:
                    best = (val, spans[i].start, spans[j].end)
        assert best is not None
        return best[1], best[2]


def _clauses(spans: list[Any], max_words: int) -> list[Any]:
    """Sentences, with one longer than `max_words` cut at its commas and semicolons.

    Transcribed speech runs on ("so we could, um, do the buttons, and then, ..."): one
    sentence can fill a fifth of the answer. Its clauses are still verbatim spans of
    the turn, and the quote window is then chosen among them like among sentences.
    """
    from subagents.offline.text import Span

    out: list[Any] = []
    for sp in spans:
        if len(sp.text.split()) <= max_words:
            out.append(sp)
            continue
        cut = sp.start
        for m in _CLAUSE_END.finditer(sp.text):
            end = sp.start + m.start() + 1
            if sp.text[cut - sp.start : end - sp.start].strip(" ,;"):
                out.append(Span(cut, end, sp.text[cut - sp.start : end - sp.start]))
            cut = sp.start + m.end()
        if sp.text[cut - sp.start :].strip(" ,;"):
            out.append(Span(cut, sp.end, sp.text[cut - sp.start :]))
    return out


_CLAUSE_END = re.compile(r"[,;]\s+")


def _clean(text: str) -> str:
    from subagents.offline.text import clean

    return clean(text)
