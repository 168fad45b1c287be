"""Metrics of one answer against one golden item.

- Evidence: `evidence_hit` = at least one cited segment lies in a gold span (1/0);
  `evidence_recall` = share of gold segments cited; `document_recall` = share of gold
  documents with at least one citation. Citations are matched to gold spans by document
  id and segment index (the number after '#' in a segment id).
- Quote faithfulness: share of quotes that are verbatim in the segment they cite (and
  at their offsets), by `subagents.verify.check_evidence`. Must be 1.0.
- ROUGE-1/2/L F1 of the answer text (citation markers removed) against the reference,
  computed with Google's `rouge-score` package (0.1.2): its default tokenizer (lower-case,
  every non-alphanumeric character a separator, no stop-word removal), Porter stemming
  on (`use_stemmer=True`), ROUGE-L = sentence-level LCS (`rougeL`, not `rougeLsum`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval import Document
    from workbench.ask.answer import Answer
    from workbench.evaluation.golden import GoldenItem

ROUGE_SETTINGS = (
    "rouge-score 0.1.2, F1, default tokenizer (lower-case, split on non-alphanumerics), "
    "Porter stemming on, rougeL = sentence-level LCS"
)


def segment_index(segment_id: str) -> int | None:
    tail = segment_id.rsplit("#", 1)[-1]
    return int(tail) if tail.isdigit() else None


def evidence_metrics(answer: Answer, item: GoldenItem) -> dict[str, float | None]:
    cited: set[tuple[str, int]] = set()
    for c in answer.evidence:
        idx = segment_index(c.segment_id)
        if idx is not None:
            cited.add((c.doc_id, idx))
    out: dict[str, float | None] = {
        "evidence_hit": None,
        "evidence_recall": None,
        "document_recall": None,
    }
    gold = item.gold_segments()
    if gold:
        found = cited & gold
        out["evidence_hit"] = 1.0 if found else 0.0
        out["evidence_recall"] = len(found) / len(gold)
    if item.gold_documents:
        docs = {c.doc_id for c in answer.evidence}
        out["document_recall"] = len(docs & set(item.gold_documents)) / len(item.gold_documents)
        if not gold:
            out["evidence_hit"] = 1.0 if docs & set(item.gold_documents) else 0.0
    return out


def quote_faithfulness(answer: Answer, docs: Mapping[str, Document]) -> float | None:
    """Share of the answer's quotes that are verbatim in their cited segment; None if no quotes."""
    from subagents.verify import check_evidence

    if not answer.evidence:
        return None
    ok = 0
    for c in answer.evidence:
        ok += check_evidence(c.to_evidence(), docs) is None
    return ok / len(answer.evidence)


@lru_cache(maxsize=1)
def _scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge(candidate: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F1 of `candidate` against `reference` (settings in ROUGE_SETTINGS)."""
    scores = _scorer().score(reference, candidate)
    return {name: round(float(s.fmeasure), 4) for name, s in scores.items()}


def mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def theme_coverage(answer_text: str, themes: list[str]) -> float | None:
    """Share of expected themes the answer mentions: at least half of a theme's content
    words (plural-stemmed) occur in the answer. None when the item lists no themes."""
    from subagents.offline.text import content_words, stem

    if not themes:
        return None
    said = {stem(w) for w in content_words(answer_text)}
    covered = 0
    for theme in themes:
        want = {stem(w) for w in content_words(theme)}
        covered += bool(want) and len(want & said) * 2 >= len(want)
    return covered / len(themes)
