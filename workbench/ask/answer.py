"""Ask the corpus one question; get an answer whose every sentence cites verbatim evidence.

    answer = ask(project, "What did they decide about the battery?", corpus=corpus,
                 scope=["ES2002c"])          # or scope={"where": {"speaker": "Marketing"}}
    print(answer.markdown())                  # sentences with [n] markers + the evidence list

Two engines, one result type (`Answer`):

- offline (no model, `workbench.ask.offline`): hybrid retrieval for the question and
  its sub-queries, then extractive composition of the best turns, each answer sentence
  a cleaned rendering of one quote.
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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from subagents.findings import Evidence

if TYPE_CHECKING:
    from retrieval import Document

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
