"""The evidence gates: every quote is verbatim in the segment it cites, and every claim
is supported by its quotes.

`check_findings` runs on every finding before it counts, and again on everything an
export shows. `claim_support` / `unsupported_claims` check that a (model-written) claim
says what its quotes say, not only that the quotes are real.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel

from retrieval.types import Document
from subagents.findings import Evidence, Finding, is_prompt_role


class QuoteProblem(BaseModel):
    finding_id: str
    doc_id: str
    segment_id: str
    quote: str
    problem: str


def check_evidence(ev: Evidence, docs: Mapping[str, Document]) -> str | None:
    """None when the quote is verbatim in its cited segment (and at its offsets), else why not."""
    doc = docs.get(ev.doc_id)
    if doc is None:
        return f"unknown document {ev.doc_id!r}"
    try:
        seg = doc.segment(ev.segment_id)
    except KeyError:
        return f"unknown segment {ev.segment_id!r} in {ev.doc_id!r}"
    if not ev.quote.strip():
        return "empty quote"
    if ev.quote not in seg.text:
        return "quote is not verbatim in its segment"
    if (
        ev.start_char is not None
        and ev.end_char is not None
        and doc.text[ev.start_char : ev.end_char] != ev.quote
    ):
        return "quote offsets do not point at the quote"
    return None


def check_findings(findings: Iterable[Finding], docs: Mapping[str, Document]) -> list[QuoteProblem]:
    problems: list[QuoteProblem] = []
    for f in findings:
        for ev in f.evidence:
            why = check_evidence(ev, docs)
            if why:
                problems.append(
                    QuoteProblem(
                        finding_id=f.id,
                        doc_id=ev.doc_id,
                        segment_id=ev.segment_id,
                        quote=ev.quote,
                        problem=why,
                    )
                )
    return problems


# ---- is the claim supported by its quote? -----------------------------------------------------
#
# A quote can be verbatim and still not support the claim made from it: a prompt injection
# (a planted file name, a ticket title) can make a model write "ALL USERS LOVE THE
# PRODUCT" over a real quote about a crash. `claim_support` measures how much of a claim
# its quotes carry; `unsupported_claims` is the gate the pipeline runs on model findings.

#: Below this support a claim is not carried by its quotes (see `claim_support`).
CLAIM_SUPPORT_THRESHOLD = 0.25

# words any claim about a corpus may use without its quote saying them
_FRAME_WORDS = frozenset(
    """participant participants user users customer customers people person speaker speakers
    interviewee interviewees team teams member members someone everyone they say says said
    saying mention mentions mentioned mentioning note notes noted state states stated
    report reports reported describe describes described explain explains explained express
    expresses expressed raise raises raised feel feels felt think thinks thought want wants
    wanted one several many also meeting meetings interview interviews discussion ticket
    tickets document documents quote quotes""".split()
)


class Encoder(Protocol):
    """Anything with `encode(texts) -> (n, d) array` of unit vectors (`retrieval.Embedder`)."""

    def encode(self, texts: list[str]) -> Any: ...


class ClaimProblem(BaseModel):
    finding_id: str
    doc_id: str
    claim: str
    support: float
    problem: str


def _claim_words(text: str) -> set[str]:
    from retrieval.text import tokenize

    frame = {w for f in _FRAME_WORDS for w in tokenize(f)}
    # ids ("ES2002a", "tickets/12") name where a claim comes from, not what it asserts
    return {w for w in tokenize(text) if w not in frame and not any(c.isdigit() for c in w)}


def _lexical_support(claim: str, quotes: Sequence[str]) -> float:
    words = _claim_words(claim)
    if not words:
        return 1.0  # nothing asserted beyond the frame ("a participant said this")
    said: set[str] = set()
    for q in quotes:
        said |= _claim_words(q)
    return len(words & said) / len(words)


def _semantic_support(cosine: float) -> float:
    # MiniLM cosines: unrelated sentences ~0.0-0.2, a paraphrase ~0.5+; map 0.2..0.6 to 0..1
    return max(0.0, min(1.0, (cosine - 0.2) / 0.4))


def claim_support(
    claim: str, quote: str | Sequence[str], *, embedder: Encoder | None = None
) -> float:
    """How much of `claim` its quote(s) carry, from 0 (nothing) to 1 (all of it).

    Lexical: the share of the claim's content words (stemmed, stop words and framing words
    such as "participants said" left out) that the quotes contain. With an `embedder`
    (e.g. `retrieval.Embedder()`), also the cosine similarity of claim and quote, rescaled
    (0.2 -> 0, 0.6 -> 1), and the larger of the two counts, so a faithful paraphrase
    ("Cost is a concern" for "the price matters most") is supported too. Deterministic and
    offline; a claim scoring under `CLAIM_SUPPORT_THRESHOLD` is not supported.
    """
    quotes = [quote] if isinstance(quote, str) else list(quote)
    lexical = _lexical_support(claim, quotes)
    if embedder is None or lexical >= 1.0 or not quotes:
        return lexical
    vectors = np.asarray(embedder.encode([claim, *quotes]), dtype=np.float32)
    cos = float(np.max(vectors[1:] @ vectors[0]))
    return max(lexical, _semantic_support(cos))


def unsupported_claims(
    findings: Iterable[Finding],
    *,
    threshold: float = CLAIM_SUPPORT_THRESHOLD,
    embedder: Encoder | None = None,
) -> list[ClaimProblem]:
    """The findings whose claim their own quotes do not support (see `claim_support`).

    Run on model-written findings after the verbatim check: both must pass for a finding
    to count. With an `embedder`, all claims and quotes are encoded in one batch.
    """
    items = [f for f in findings if f.evidence]
    lexical = [_lexical_support(f.claim, [e.quote for e in f.evidence]) for f in items]
    scores = list(lexical)
    todo = [i for i, s in enumerate(lexical) if s < threshold]
    if embedder is not None and todo:
        texts: list[str] = []
        spans: list[tuple[int, int]] = []
        for i in todo:
            f = items[i]
            spans.append((len(texts), len(f.evidence)))
            texts += [f.claim, *(e.quote for e in f.evidence)]
        vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
        for i, (at, n) in zip(todo, spans, strict=True):
            cos = float(np.max(vectors[at + 1 : at + 1 + n] @ vectors[at]))
            scores[i] = max(scores[i], _semantic_support(cos))
    return [
        ClaimProblem(
            finding_id=f.id,
            doc_id=f.doc_id,
            claim=f.claim,
            support=round(s, 3),
            problem=f"claim not supported by its quotes (support {s:.2f} < {threshold})",
        )
        for f, s in zip(items, scores, strict=True)
        if s < threshold
    ]


def interviewer_evidence(findings: Iterable[Finding]) -> list[QuoteProblem]:
    """Evidence spoken by an interviewer: a prompt, not what a participant said."""
    return [
        QuoteProblem(
            finding_id=f.id,
            doc_id=ev.doc_id,
            segment_id=ev.segment_id,
            quote=ev.quote,
            problem=f"the quote is the {ev.role}'s (a prompt), not a participant's",
        )
        for f in findings
        for ev in f.evidence
        if is_prompt_role(ev.role)
    ]
