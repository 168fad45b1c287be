"""Ask the corpus one question; get an answer whose every sentence cites verbatim evidence.

    answer = ask(project, "What did they decide about the battery?", corpus=corpus,
                 scope=["ES2002c"])          # or scope={"where": {"speaker": "Marketing"}}
    print(answer.markdown())                  # sentences with [n] markers + the evidence list

Two engines, one result type (`Answer`):

- offline (no model): hybrid retrieval for the question and its sub-queries, then
  extractive composition: the best turn of each of the top passages (distinct places
  of the conversation) first, then the best remaining turns (MMR), each trimmed to its
  best sentences or clauses, put back in document order and cut to a word budget.
  Turns are scored by retrieval rank and embedding similarity to the question; the
  answer abstains unless some turn reaches `min_similarity`. Each answer sentence is a
  cleaned rendering of one quote (markup removed), so it states nothing the quote
  does not say.
- model (`workbench.ask.model`): the planner decomposes the question, analysts
  search in parallel, a lead writes the answer, a citation pass keeps only
  sentences whose quotes are verbatim.

Either way every quote is checked against its segment before the answer is returned
(`subagents.verify.check_evidence`); a sentence whose evidence fails is dropped. When
nothing relevant is found the answer says so and has no sentences; it never
invents one.
"""

from __future__ import annotations

import html
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from subagents.findings import Evidence

if TYPE_CHECKING:
    from retrieval import Document, HybridIndex

ASK_VERSION = "ask/1"
NO_EVIDENCE = "I found no evidence for this in {where}, so I cannot answer it from the corpus."
ENGINE_NOTES = {
    "offline": "offline engine: extractive answer (retrieved turns quoted verbatim); no model used",
    "model": "model engine: planner, parallel searchers, lead writer, citation check",
}


class Scope(BaseModel):
    """Where to look: the whole corpus (default), some documents, and/or a metadata filter."""

    doc_ids: list[str] | None = None
    where: dict[str, Any] | None = None

    @classmethod
    def of(cls, scope: Scope | str | Sequence[str] | Mapping[str, Any] | None) -> Scope:
        """Accepts a Scope, a document id, a list of ids, {"doc_ids": [...], "where": {...}},
        or a bare metadata filter such as {"speaker": "Marketing"}."""
        if scope is None:
            return cls()
        if isinstance(scope, Scope):
            return scope
        if isinstance(scope, str):
            return cls(doc_ids=[scope])
        if isinstance(scope, Mapping):
            if set(scope) <= {"doc_ids", "where"}:
                return cls.model_validate(dict(scope))
            return cls(where=dict(scope))
        ids = [str(s) for s in scope]
        return cls(doc_ids=ids or None)

    def describe(self) -> str:
        parts = []
        if self.doc_ids:
            parts.append(
                "documents "
                + ", ".join(self.doc_ids[:5])
                + (" ..." if len(self.doc_ids) > 5 else "")
            )
        if self.where:
            parts.append(f"filter {self.where}")
        return " with ".join(parts) or "the whole corpus"


class Citation(BaseModel):
    """One piece of evidence: a verbatim quote of a segment, numbered as cited in the text."""

    n: int  # the [n] marker used in the answer
    doc_id: str
    segment_id: str
    quote: str  # verbatim substring of the segment text
    speaker: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    start_char: int | None = None  # offsets of the quote in the document text
    end_char: int | None = None
    chunk_id: str | None = None
    score: float = 0.0

    def to_evidence(self) -> Evidence:
        """The citation as the agent stack's `Evidence` (what `check_evidence` checks)."""
        return Evidence(
            doc_id=self.doc_id,
            segment_id=self.segment_id,
            quote=self.quote,
            speaker=self.speaker,
            start_time=self.start_time,
            end_time=self.end_time,
            start_char=self.start_char,
            end_char=self.end_char,
            chunk_id=self.chunk_id,
        )


class AnswerSentence(BaseModel):
    text: str
    citations: list[int] = Field(default_factory=list)  # Citation.n values
    # the heading this sentence is listed under (a document); None for the direct answer
    group: str | None = None


class Answer(BaseModel):
    """A cited answer. `text` is the prose with [n] markers; `evidence` the numbered quotes."""

    question: str
    scope: Scope = Field(default_factory=Scope)
    engine: Literal["offline", "model"] = "offline"
    engine_note: str = ENGINE_NOTES["offline"]
    found: bool = True
    sentences: list[AnswerSentence] = Field(default_factory=list)
    evidence: list[Citation] = Field(default_factory=list)
    cost_usd: float = 0.0
    tokens: dict[str, int] = Field(default_factory=lambda: {"input": 0, "output": 0})
    latency_s: float = 0.0
    notes: list[str] = Field(default_factory=list)
    version: str = ASK_VERSION

    @property
    def text(self) -> str:
        if not self.found:
            return NO_EVIDENCE.format(where=self.scope.describe())
        return " ".join(
            s.text + ("" if not s.citations else " " + "".join(f"[{n}]" for n in s.citations))
            for s in self.sentences
        )

    @property
    def plain_text(self) -> str:
        """The answer without citation markers (what ROUGE compares)."""
        if not self.found:
            return self.text
        return " ".join(s.text for s in self.sentences)

    def markdown(self) -> str:
        """The direct answer first, then the supporting points grouped under their
        document, then the numbered evidence."""
        lines = [f"**Q:** {self.question}", ""]
        if not self.found:
            lines += [self.text, ""]
        else:
            groups: dict[str | None, list[AnswerSentence]] = {}
            for s in self.sentences:
                groups.setdefault(s.group, []).append(s)
            for g, items in groups.items():
                if g is None:
                    lines += [" ".join(_cited(s) for s in items), ""]
                    continue
                lines.append(f"**{g}**")
                lines += [f"- {_cited(s)}" for s in items]
                lines.append("")
        if self.evidence:
            lines.append("Evidence:")
            for c in self.evidence:
                lines.append(f"[{c.n}] {_where(c)}: \u201c{c.quote}\u201d")
        lines += ["", f"_{self.engine_note}_"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.markdown()

    def _repr_html_(self) -> str:
        ev = "".join(
            f"<li id='ev{c.n}'><b>[{c.n}]</b> {html.escape(_where(c))}: "
            f"<q>{html.escape(c.quote)}</q></li>"
            for c in self.evidence
        )
        return (
            f"<div><p><b>Q:</b> {html.escape(self.question)}</p><p>{html.escape(self.text)}</p>"
            f"<ol style='list-style:none'>{ev}</ol><p><i>{html.escape(self.engine_note)}</i></p></div>"
        )


def _cited(s: AnswerSentence) -> str:
    return s.text + ("" if not s.citations else " " + "".join(f"[{n}]" for n in s.citations))


def _where(c: Citation) -> str:
    out = (
        f"{c.doc_id}, turn {c.segment_id.rsplit('#', 1)[-1]}"
        if "#" in c.segment_id
        else c.segment_id
    )
    if c.speaker:
        out += f", {c.speaker}"
    if c.start_time is not None:
        out += f", {_clock(c.start_time)}"
    return out


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def verify_answer(answer: Answer, docs: Mapping[str, Document]) -> Answer:
    """The citation gate: drop evidence that is not verbatim, then sentences left uncited."""
    from subagents.verify import check_evidence

    good: dict[int, Citation] = {}
    for c in answer.evidence:
        problem = check_evidence(c.to_evidence(), docs)
        if problem is None:
            good[c.n] = c
        else:
            answer.notes.append(f"dropped evidence [{c.n}] ({c.segment_id}): {problem}")
    sentences = []
    for s in answer.sentences:
        cites = [n for n in s.citations if n in good]
        if cites:
            sentences.append(AnswerSentence(text=s.text, citations=cites, group=s.group))
        else:
            answer.notes.append(f"dropped a sentence without verified evidence: {s.text[:80]!r}")
    # renumber in order of first citation so the markers read 1, 2, 3 ...
    order: list[int] = []
    for s in sentences:
        order.extend(n for n in s.citations if n not in order)
    renum = {old: i for i, old in enumerate(order, start=1)}
    answer.evidence = [good[old].model_copy(update={"n": renum[old]}) for old in order]
    answer.sentences = [
        AnswerSentence(text=s.text, citations=[renum[n] for n in s.citations], group=s.group)
        for s in sentences
    ]
    answer.found = bool(answer.sentences)
    return answer


# -- the offline engine ------------------------------------------------------------------


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
            if seg.attrs.get("role") == "interviewer":  # prompts, never evidence
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
