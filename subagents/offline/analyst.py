"""The extractive analyst: the offline implementation of the interview/ticket analysts.

For one document and one question it returns what participants said about the
question, as findings:

- **Whose words count.** In an interview the interviewer's turns are prompts, never
  evidence (the speaker roles come from `retrieval.roles`, recorded on each segment as
  `attrs["role"]`). Meetings and focus groups without an interviewer keep every speaker.
- **What is not evidence.** Questions, text that recurs across many documents (the
  guide read out, a ticket template: `attrs["recurring"]`), redacted text, fillers, and
  sentences that only restate the research question.
- **The unit is an answer.** A finding is a passage of complete sentences from one turn
  (a long answer gives several passages); the prompt that drew it (the interviewer's
  question, the ticket's title, the question another speaker just asked) is kept as
  `Finding.context`.
- **No quota.** Every passage about the question is kept, up to a ceiling: a document
  that says much gives many findings, one that says nothing gives none. Near-duplicates
  within the document are merged.
- **Confidence** combines how relevant the passage (or the prompt it answers) is, how
  much it says beyond the question's own words, and how sure the speaker's role is; it
  never comes from similarity to the question alone.

It never writes text of its own: the claim is a cleaned rendering of the quote, the
quote is a character span of the source.
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
from subagents.findings import Evidence, Finding, is_prompt_role
from subagents.offline.sentiment import sentiment_of
from subagents.offline.text import Span, clean, content_words, sentence_spans, words

ANALYST_VERSION = "answer-analyst/5"

# what an issue tracker asks of whoever opens a ticket (the prompt of its opening post)
TRACKER_PROMPTS = (
    "What problem did you run into, or what would you like to have?",
    "Describe the bug you found or the feature you are asking for.",
)

_REDACTED = re.compile(r"\b(?:X{2,}|\[redacted\]|<redacted>)", re.IGNORECASE)
# a link's address is no one's words: "Via https://..." or "[repl](https://...)" says nothing
_LINK = re.compile(r"\]\([^)\s]*\)|https?://\S+|www\.\S+")


def _said(text: str) -> list[str]:
    """The content words of `text` outside link addresses."""
    return content_words(_LINK.sub(" ", text))


class Searcher(Protocol):
    def search(self, query: str, *, k: int, doc_ids: list[str]) -> list[Hit]: ...


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class AnalystSettings:
    max_findings: int = 60  # a ceiling, not a quota
    hits_per_query: int = 10
    min_content_words: int = 6  # per passage
    max_chars: int = 360  # a passage grows sentence by sentence up to this length
    min_relevance: float = 0.2  # cosine of the passage (or its prompt) to the question
    restatement: float = 0.75  # this close to the question and saying little else: dropped
    duplicate: float = 0.92  # passages of one document this similar are one finding
    prompt_weight: float = 0.5  # how much an on-topic prompt lends to its answer


def question_clauses(question: str) -> list[tuple[str, str]]:
    """The parts of a question as (the words asked, the query to search with).

    A clause too short to stand alone ("what worries them") is searched with the content
    words of the rest of the question ("... about teams, new remote control")."""
    parts = re.split(
        r"[?;]|,\s*(?:and|but|or)\s+|\s+and\s+(?=what|how|why|which|who|where|when)", question
    )
    clauses = [p.strip(" ,.") for p in parts if p.strip(" ,.")]
    out: list[tuple[str, str]] = []
    for p in clauses:
        own = content_words(p)
        if len(own) >= 2:
            out.append((p, p))
        elif own or re.match(r"(?i)(what|how|why|which|who|where|when)\b", p):
            rest = [w for q in clauses if q != p for w in content_words(q) if w not in own]
            if rest:
                out.append((p, f"{p} about {' '.join(dict.fromkeys(rest))}"))
    return out


def sub_queries(question: str) -> list[str]:
    """The question and its clauses, so a two-part question retrieves both parts."""
    whole = question.strip()
    return list(
        dict.fromkeys(
            [whole, *(q for _, q in question_clauses(question) if q.lower() != whole.lower())]
        )
    )


@dataclass(frozen=True)
class Piece:
    """A [start, end) slice of one segment's text."""

    segment: Segment
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.segment.text[self.start : self.end]


@dataclass
class Passage:
    """Consecutive kept sentences of one speaker: one piece per segment it touches (a turn
    split over subtitle cues, or over consecutive turns, stays one passage)."""

    pieces: list[Piece]
    prompt: Segment | None
    prompt_span: tuple[int, int] | None
    section: Piece | None = None  # the guide question whose section this is

    @property
    def segment(self) -> Segment:
        return self.pieces[0].segment

    @property
    def start(self) -> int:
        return self.pieces[0].start

    @property
    def text(self) -> str:
        return " ".join(p.text for p in self.pieces)


def _recurring(seg: Segment) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in seg.attrs.get("recurring", [])]


def _question_span(seg: Segment) -> tuple[int, int] | None:
    """The question sentences at the end of a prompt turn (what was asked), else the turn."""
    spans = sentence_spans(seg.text)
    if not spans:
        return None
    asked = [i for i, sp in enumerate(spans) if sp.text.rstrip().endswith("?")]
    if not asked:
        return (spans[0].start, spans[-1].end)
    last = asked[-1]
    first = last
    while first > 0 and first - 1 in asked:
        first -= 1
    return (spans[first].start, spans[last].end)


def _usable(sp: Span, seg: Segment) -> bool:
    text = sp.text.strip()
    if text.endswith("?"):
        return False
    if any(sp.start < b and a < sp.end for a, b in _recurring(seg)):
        return False
    if len(_REDACTED.findall(text)) >= 2:
        return False
    said = _said(text)
    # a link with a word or two around it ("Via <url>", "[repro](<url>)") says nothing
    return len(said) >= (3 if _LINK.search(text) else 1)


def _group(run: list[Segment], max_chars: int) -> list[list[Piece]]:
    """Runs of usable sentences of one speaker's consecutive segments, each up to
    `max_chars`, as pieces (one per segment touched)."""
    out: list[list[Piece]] = []
    current: list[tuple[Segment, Span]] = []
    size = 0

    def close() -> None:
        pieces: list[Piece] = []
        for seg, sp in current:
            if pieces and pieces[-1].segment.id == seg.id:
                pieces[-1] = Piece(seg, pieces[-1].start, sp.end)
            else:
                pieces.append(Piece(seg, sp.start, sp.end))
        out.append(pieces)

    for seg in run:
        for sp in sentence_spans(seg.text):
            usable = _usable(sp, seg)
            if current and (not usable or size + len(sp.text) > max_chars):
                close()
                current, size = [], 0
            if usable:
                current.append((seg, sp))
                size += len(sp.text) + 1
    if current:
        close()
    return out


def _runs(segments: list[Segment]) -> list[list[Segment]]:
    """Consecutive segments of the same (named) speaker; unlabelled segments stand alone."""
    out: list[list[Segment]] = []
    for seg in segments:
        if (
            out
            and seg.speaker
            and out[-1][-1].speaker == seg.speaker
            and out[-1][-1].index == seg.index - 1
        ):
            out[-1].append(seg)
        else:
            out.append([seg])
    return out


def answer_passages(doc: Document, max_chars: int) -> list[Passage]:
    """Candidate evidence of one document: participants' sentences grouped into passages,
    each with the prompt that drew it (see the module docstring)."""
    out: list[Passage] = []
    prompt: Segment | None = None
    prompt_span: tuple[int, int] | None = None
    recent: list[Segment] = []
    title = next((s for s in doc.segments if s.attrs.get("field") == "title"), None)
    section: Piece | None = None
    for run in _runs([s for s in doc.segments if s.text.strip()]):
        seg = run[0]
        role = seg.attrs.get("role")
        if is_prompt_role(role):
            for turn in run:
                span = _question_span(turn)
                if span is not None and ("?" in turn.text or len(content_words(turn.text)) >= 4):
                    prompt, prompt_span = turn, span
                guide = [
                    (a, b) for a, b in _recurring(turn) if turn.text[a:b].rstrip().endswith("?")
                ]
                if guide:  # a question asked in many interviews opens a section of the guide
                    section = Piece(turn, *guide[-1])
            continue
        if seg.attrs.get("field") == "title":
            continue
        context, context_span = prompt, prompt_span
        if doc.kind == "ticket" and title is not None and prompt is None:
            # what the ticket is about, until a maintainer asks something
            context, context_span = title, (0, len(title.text))
        elif context is None:  # no interviewer: the question another speaker just asked
            asked = next(
                (r for r in reversed(recent[-3:]) if r.speaker != seg.speaker and "?" in r.text),
                None,
            )
            if asked is not None:
                context, context_span = asked, _question_span(asked)
        recent.extend(run)
        for pieces in _group(run, max_chars):
            out.append(Passage(pieces, context, context_span, section))
    return out


class ExtractiveAnalyst:
    """Finds what participants of one document said about a question; returns findings."""

    def __init__(
        self, searcher: Searcher, encoder: Encoder, settings: AnalystSettings | None = None
    ) -> None:
        self.searcher = searcher
        self.encoder = encoder
        self.settings = settings or AnalystSettings()
        self._tracker: np.ndarray | None = None

    def analyze(
        self, doc: Document, question: str, *, task_key: str, steering: Sequence[str] = ()
    ) -> list[Finding]:
        s = self.settings
        queries = sub_queries(question) + [m for m in steering if m.strip()]
        passages = [
            p
            for p in answer_passages(doc, s.max_chars)
            if len(_said(p.text)) >= s.min_content_words
        ]
        if not passages:
            return []
        texts = [clean(p.text) for p in passages]
        vecs = self.encoder.encode(texts)
        query_vecs = self.encoder.encode(queries)
        own = (vecs @ query_vecs.T).max(axis=1)
        prompt_rel = self._prompt_relevance(passages, query_vecs)
        w = s.prompt_weight
        relevance = np.maximum(own, (1 - w) * own + w * prompt_rel)
        relevance = relevance + 0.1 * self._retrieved(doc, queries, passages)
        asked = {x for q in queries for x in content_words(q)}
        substance = np.array(
            [_substance(t, asked | _prompt_words(p)) for t, p in zip(texts, passages, strict=True)]
        )
        restates = (own >= s.restatement) & (substance < 0.6)
        keep = (relevance >= s.min_relevance) & ~restates
        score = relevance * (0.5 + 0.5 * substance)
        order = [int(i) for i in np.argsort(-score) if keep[i]]
        chosen: list[int] = []
        for i in order:
            if len(chosen) >= s.max_findings:
                break
            if chosen and float((vecs[chosen] @ vecs[i]).max()) >= s.duplicate:
                continue
            chosen.append(i)
        role_sure = _role_certainty(doc)
        findings = []
        for i in sorted(chosen, key=lambda j: (passages[j].segment.index, passages[j].start)):
            p = passages[i]
            confidence = 0.15 + 0.45 * min(1.0, float(relevance[i]) / 0.5)
            confidence += 0.25 * float(substance[i]) + 0.15 * role_sure
            findings.append(
                self._finding(
                    doc, p, texts[i], task_key, round(float(np.clip(confidence, 0.05, 1.0)), 3)
                )
            )
        return findings

    def _prompt_relevance(self, passages: list[Passage], query_vecs: np.ndarray) -> np.ndarray:
        tracker = self._tracker_relevance(passages, query_vecs)
        prompts: dict[str, str] = {}
        for p in passages:
            if p.prompt is not None and p.prompt_span is not None:
                a, b = p.prompt_span
                prompts.setdefault(p.prompt.id, clean(p.prompt.text[a:b]))
        if not prompts:
            return tracker
        ids = list(prompts)
        sims = dict(
            zip(
                ids,
                (self.encoder.encode([prompts[i] for i in ids]) @ query_vecs.T).max(axis=1),
                strict=True,
            )
        )
        prompted: np.ndarray = np.maximum(
            tracker,
            np.array(
                [
                    float(sims[p.prompt.id])
                    if p.prompt is not None and p.prompt.id in sims
                    else 0.0
                    for p in passages
                ],
                dtype=np.float32,
            ),
        )
        return prompted

    def _tracker_relevance(self, passages: list[Passage], query_vecs: np.ndarray) -> np.ndarray:
        """A ticket's opening post answers the tracker's own prompt ("what went wrong, or
        what would you like?") as an interview answer answers its question: a question
        about what the tickets report draws every opening post, one about a topic
        ("GPU memory") only the posts about it. Comments answer the thread, not this."""
        out = np.zeros(len(passages), dtype=np.float32)
        opening = [i for i, p in enumerate(passages) if p.segment.attrs.get("field") == "body"]
        if opening:
            sim = float((self._tracker_vectors() @ query_vecs.T).max())
            out[opening] = sim
        return out

    def _tracker_vectors(self) -> np.ndarray:
        if self._tracker is None:
            self._tracker = np.asarray(self.encoder.encode(list(TRACKER_PROMPTS)))
        return self._tracker

    def _retrieved(self, doc: Document, queries: list[str], passages: list[Passage]) -> np.ndarray:
        """1 for passages in a turn the hybrid index ranks first for the question, falling
        off with rank: lexical matches the embedding alone can miss."""
        best: dict[str, float] = {}
        for q in queries:
            for rank, hit in enumerate(
                self.searcher.search(q, k=self.settings.hits_per_query, doc_ids=[doc.id]), start=1
            ):
                for sid in hit.segment_ids:
                    best[sid] = max(best.get(sid, 0.0), 1.0 / rank)
        return np.array(
            [max(best.get(x.segment.id, 0.0) for x in p.pieces) for p in passages], dtype=np.float32
        )

    @staticmethod
    def _finding(
        doc: Document, p: Passage, claim: str, task_key: str, confidence: float
    ) -> Finding:
        evidence = [
            Evidence(
                doc_id=doc.id,
                segment_id=x.segment.id,
                quote=x.text,
                speaker=x.segment.speaker,
                role=x.segment.attrs.get("role"),
                start_time=x.segment.start_time,
                end_time=x.segment.end_time,
                start_char=x.segment.start_char + x.start,
                end_char=x.segment.start_char + x.end,
            )
            for x in p.pieces
        ]
        seg = p.segment
        context = None
        if p.prompt is not None and p.prompt_span is not None:
            a, b = p.prompt_span
            pr = p.prompt
            context = Evidence(
                doc_id=doc.id,
                segment_id=pr.id,
                quote=pr.text[a:b],
                speaker=pr.speaker,
                role=pr.attrs.get("role"),
                start_time=pr.start_time,
                end_time=pr.end_time,
                start_char=pr.start_char + a,
                end_char=pr.start_char + b,
            )
        section = None
        if p.section is not None:
            g = p.section
            section = Evidence(
                doc_id=doc.id,
                segment_id=g.segment.id,
                quote=g.text,
                speaker=g.segment.speaker,
                role=g.segment.attrs.get("role"),
                start_char=g.segment.start_char + g.start,
                end_char=g.segment.start_char + g.end,
            )
        fid = hashlib.sha256(f"{task_key}|{seg.id}|{p.start}".encode()).hexdigest()[:16]
        return Finding(
            id=fid,
            task_key=task_key,
            doc_id=doc.id,
            claim=claim,
            evidence=evidence,
            context=context,
            section=section,
            confidence=confidence,
            sentiment=sentiment_of(p.text),
            tags=[seg.speaker] if seg.speaker else [],
            engine="offline",
        )


def _prompt_words(p: Passage) -> set[str]:
    if p.prompt is None or p.prompt_span is None:
        return set()
    a, b = p.prompt_span
    return set(content_words(p.prompt.text[a:b]))


def _role_certainty(doc: Document) -> float:
    info = doc.metadata.get("speaker_roles")
    if not isinstance(info, dict):
        return 0.7 if doc.kind == "conversation" else 1.0
    return 1.0 if info.get("confident", True) else 0.5


def _substance(text: str, asked: set[str]) -> float:
    """What a passage says beyond the question and its prompt: novel content words, fluency."""
    toks = words(text)
    novel = {w for w in content_words(text) if w not in asked}
    repeats = sum(1 for a, b in itertools.pairwise(toks) if a == b)
    fluency = max(0.4, 1.0 - 0.2 * repeats)
    return (0.3 + 0.7 * min(1.0, len(novel) / 6)) * fluency
