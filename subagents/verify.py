"""The verbatim-quote gate: every quote must be a substring of the segment it cites.

Run on every finding before it counts, and again on everything an export shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel

from retrieval.types import Document
from subagents.findings import Evidence, Finding


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


def interviewer_evidence(findings: Iterable[Finding]) -> list[QuoteProblem]:
    """Evidence spoken by an interviewer: a prompt, not what a participant said."""
    return [
        QuoteProblem(
            finding_id=f.id,
            doc_id=ev.doc_id,
            segment_id=ev.segment_id,
            quote=ev.quote,
            problem="the quote is the interviewer's (a prompt), not a participant's",
        )
        for f in findings
        for ev in f.evidence
        if ev.role == "interviewer"
    ]
