"""The offline triage engine: the workbench side of `subagents.offline.triage`.

Turns Documents into the classifier's inputs, learns from the labelled set, and turns
its predictions into `TicketLabel`s with verbatim evidence and flags. A ticket whose
words are mostly unknown to the labelled tickets (another language, most often) is
flagged and always sent to review: the classifier has learned nothing about it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from subagents.findings import Evidence
from subagents.offline.triage import (
    ClassifierSettings,
    FitReport,
    Quote,
    TicketClassifier,
    TicketInput,
)
from workbench.triage.labelled import (
    DEFAULT_COLUMNS,
    MAX_TEXT_CHARS,
    LabelledSet,
    TextColumns,
    evidence_segments,
    ticket_text,
)
from workbench.triage.records import TicketLabel

if TYPE_CHECKING:
    from retrieval.types import Document
    from subagents.offline.triage import Encoder, Tuner
    from workbench.core.settings import TriageSettings

_WORD = re.compile(r"[^\W\d_]{2,}")
# a ticket with at least this many words, under this share of them known from the
# labelled tickets, is flagged as not in their language
MIN_WORDS_FOR_LANGUAGE = 6
MIN_KNOWN_SHARE = 0.4
FOREIGN_FLAG = "most of its words never occur in the labelled tickets (another language?)"


def title_of(doc: Document) -> str:
    for s in doc.segments:
        if s.attrs.get("field") == "title":
            return s.text
    return doc.title


def ticket_input(
    doc: Document,
    columns: TextColumns,
    group: str | None,
    recurring: dict[str, list[tuple[int, int]]] | None = None,
) -> TicketInput:
    title = next((s.text for s in doc.segments if s.attrs.get("field") == "title"), "")
    text = ticket_text(doc, columns)
    body = text[len(title) + 1 :] if title and text.startswith(title) else text
    return TicketInput(
        doc_id=doc.id,
        title=title,
        body=body,
        parts=evidence_segments(doc, columns),
        group=group,
        recurring=recurring or {},
    )


def group_of(doc: Document, column: str | None) -> str | None:
    if not column:
        return None
    value = doc.metadata.get(column)
    text = str(value).strip() if value is not None else ""
    return text or None


class Vocabulary:
    """The words of the labelled tickets, to tell when a ticket is in another language."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.words = {w.lower() for t in texts for w in _WORD.findall(t[:MAX_TEXT_CHARS])}

    def known_share(self, text: str) -> tuple[float, int]:
        tokens = [w.lower() for w in _WORD.findall(text[:MAX_TEXT_CHARS])]
        if not tokens:
            return 1.0, 0
        return sum(1 for w in tokens if w in self.words) / len(tokens), len(tokens)

    def foreign(self, text: str) -> bool:
        share, n = self.known_share(text)
        return n >= MIN_WORDS_FOR_LANGUAGE and share < MIN_KNOWN_SHARE


_TUNERS: dict[str, Tuner] = {}  # one per weights folder: its cached states are reused


def default_tuner(settings: TriageSettings) -> tuple[Tuner | None, str | None]:
    """The fine-tuned view's trainer, or None and why not (said in the fit's notes)."""
    if not settings.fine_tune:
        return None, "fine-tuned view off (triage.fine_tune = false): the linear stack only"
    from subagents.offline.tuned import MiniLMTuner, tuner_available

    why = tuner_available()
    if why is not None:
        return None, f"fine-tuned view off: {why}; the linear stack only"
    from retrieval.embedder import model_dir, verify_weights

    directory = model_dir()
    key = str(directory)
    if key not in _TUNERS:
        verify_weights(directory)
        _TUNERS[key] = MiniLMTuner(directory)
    return _TUNERS[key], None


class OfflineTriager:
    """Learns the labelled set's categories; labels tickets with confidence and quotes."""

    def __init__(
        self,
        encoder: Encoder,
        settings: TriageSettings,
        *,
        columns: TextColumns = DEFAULT_COLUMNS,
        group_column: str | None = None,
        classifier: ClassifierSettings | None = None,
        tuner: Tuner | str | None = "auto",
    ) -> None:
        self.settings = settings
        self.columns = columns
        self.group_column = group_column
        self.tuner_note: str | None = None
        if tuner == "auto":
            tuner, self.tuner_note = default_tuner(settings)
        self.classifier = TicketClassifier(
            encoder,
            classifier or ClassifierSettings(per_group=settings.per_group),
            tuner=tuner if not isinstance(tuner, str) else None,
        )
        self.vocabulary: Vocabulary | None = None
        self.report: FitReport | None = None
        self._labelled: list[Document] = []
        self._labelled_spans: dict[str, dict[str, list[tuple[int, int]]]] = {}

    def _recurring(self, docs: Sequence[Document]) -> list[dict[str, list[tuple[int, int]]]]:
        """Per ticket, the spans it shares with many of these and the labelled tickets (a
        template's text: `retrieval.recurring`), which are never quoted."""
        from retrieval.recurring import find_recurring

        ids = {d.id for d in docs}
        others = [
            d.model_copy(update={"id": f"labelled\x00{i}"})  # ids may clash with new ones
            for i, d in enumerate(self._labelled)
            if d.id not in ids
        ]
        found = find_recurring([*docs, *others])
        return [found.get(d.id, {}) for d in docs]

    def fit(self, labelled: LabelledSet) -> FitReport:
        self._labelled = list(labelled.documents)
        spans = self._recurring(labelled.documents)
        self._labelled_spans = {d.id: r for d, r in zip(labelled.documents, spans, strict=True)}
        inputs = [
            ticket_input(d, self.columns, g, r)
            for d, g, r in zip(labelled.documents, labelled.groups, spans, strict=True)
        ]
        self.vocabulary = Vocabulary([ticket_text(d, self.columns) for d in labelled.documents])
        self.report = self.classifier.fit(inputs, labelled.labels)
        if self.tuner_note:
            self.report.notes.insert(0, self.tuner_note)
        return self.report

    def label(self, docs: Sequence[Document]) -> list[TicketLabel]:
        inputs = [
            ticket_input(d, self.columns, group_of(d, self.group_column), r)
            for d, r in zip(docs, self._recurring(docs), strict=True)
        ]
        preds = self.classifier.predict(inputs)
        out = []
        for doc, inp, p in zip(docs, inputs, preds, strict=True):
            flags = []
            if self.vocabulary is not None and self.vocabulary.foreign(
                ticket_text(doc, self.columns)
            ):
                flags.append(FOREIGN_FLAG)
            if inp.group is not None and p.group_model is None and self.classifier._groups:
                flags.append(f"group {inp.group!r} has no labelled tickets: pooled model used")
            if len(doc.text) > MAX_TEXT_CHARS:
                flags.append(f"classified from its first {MAX_TEXT_CHARS:,} characters")
            out.append(
                TicketLabel(
                    doc_id=doc.id,
                    ticket_id=str(doc.metadata.get("ticket_id", doc.id)),
                    title=title_of(doc),
                    group=inp.group,
                    predicted=p.category,
                    confidence=round(p.confidence, 4),
                    probabilities=p.probabilities,
                    evidence=evidence_of(doc, p.evidence),
                    reason=_reason(p.category, p.evidence),
                    flags=flags,
                    source="offline",
                )
            )
        return out

    def explain(self, doc: Document, category: str) -> list[Evidence]:
        """Quotes that support `category` (for tickets the team had labelled already)."""
        spans = self._labelled_spans.get(doc.id)
        if spans is None:
            [spans] = self._recurring([doc])
        inp = ticket_input(doc, self.columns, group_of(doc, self.group_column), spans)
        return evidence_of(doc, self.classifier.explain(inp, category))


def evidence_of(doc: Document, quotes: Sequence[Quote]) -> list[Evidence]:
    """Evidence with document offsets; the ticket's opening when nothing was quotable."""
    out = []
    for q in quotes:
        seg = doc.segment(q.segment_id)
        if seg.text[q.start : q.start + len(q.quote)] != q.quote:
            continue
        out.append(
            Evidence(
                doc_id=doc.id,
                segment_id=seg.id,
                quote=q.quote,
                speaker=seg.speaker,
                start_char=seg.start_char + q.start,
                end_char=seg.start_char + q.start + len(q.quote),
            )
        )
    if not out and doc.segments:
        seg = doc.segments[0]
        quote = seg.text[:200].strip() or seg.text[:200]
        at = seg.text.index(quote)
        out.append(
            Evidence(
                doc_id=doc.id,
                segment_id=seg.id,
                quote=quote,
                speaker=seg.speaker,
                start_char=seg.start_char + at,
                end_char=seg.start_char + at + len(quote),
            )
        )
    return out


def _reason(category: str, quotes: Sequence[Quote]) -> str:
    if not quotes:
        return f"{category}: nothing in the ticket stood out; the whole text decided"
    return f"{category}: decided most by \u201c{quotes[0].quote[:120]}\u201d"


def category_words(labelled: LabelledSet, n: int = 8) -> dict[str, list[str]]:
    """Words that mark each category in the labelled tickets (for definitions and reports)."""
    import math

    from subagents.offline.text import STOPWORDS

    per: dict[str, Counter[str]] = {c: Counter() for c in labelled.categories}
    for doc, lab in zip(labelled.documents, labelled.labels, strict=True):
        words = {w.lower() for w in _WORD.findall(ticket_text(doc)[:4000])}
        per[lab].update(w for w in words if w not in STOPWORDS and len(w) > 2)
    df: Counter[str] = Counter()
    for c in per.values():
        df.update(c.keys())
    sizes = Counter(labelled.labels)
    out: dict[str, list[str]] = {}
    for cat, counts in per.items():
        total = sizes[cat]
        scored = [
            ((k / total) * math.log(1 + len(per) / df[w]), w) for w, k in counts.items() if k >= 2
        ]
        scored.sort(key=lambda x: (-x[0], x[1]))
        out[cat] = [w for _, w in scored[:n]]
    return out
