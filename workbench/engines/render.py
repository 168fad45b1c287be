"""What the model engine shows a model, and what it says about itself.

The text of a document or segment as an analyst reads it (led by segment ids, with
speaker, role and place), the findings as the synthesizer and critic read them (one JSON
line each), and the engine's note and short name for the outputs. Pure functions over
the corpus and findings types: the model engine, triage's ticket analyst and the
benchmarks use them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.types import Document, Segment
    from subagents.findings import Finding


def engine_note(models: dict[str, str]) -> str:
    """The line every output of a model-engine run carries: which models wrote what."""
    named = ", ".join(f"{tier}: {m}" for tier, m in models.items())
    return (
        f"Produced by the model engine with language models ({named}). Findings and theme "
        "labels were written by the models; every quote was checked verbatim against its "
        "source and prevalence was counted from the findings, not by the models."
    )


def engine_short(models: dict[str, str]) -> str:
    """The engine's name for chart captions: the models it used."""
    return "Model engine: " + ", ".join(sorted(set(models.values())))


def render_segment(s: Segment, piece: tuple[int, int] | None = None) -> str:
    """One segment as the model sees it: its id, speaker, role and place, then its text
    (or the characters `piece` of it, said in a bracket)."""
    head = s.id
    if s.speaker:
        head += f" {s.speaker}"
    if s.attrs.get("role"):
        head += f" [{s.attrs['role']}]"
    if s.start_time is not None:
        head += f" [{s.start_time:.1f}s]"
    elif s.start_line is not None:
        head += f" [lines {s.start_line}-{s.end_line}]"
    text = s.text
    if piece is not None:
        a, b = piece
        head += f" [characters {a}-{b} of {len(s.text)} of this segment]"
        text = s.text[a:b]
    return f"{head}: {text}"


def render_document(doc: Document) -> str:
    """The document as the model sees it: one line per segment, led by its id."""
    return "\n".join(render_segment(s) for s in doc.segments)


def findings_jsonl(findings: Sequence[Finding]) -> str:
    """The findings as the synthesizer and critic read them: one JSON object a line, with
    the quotes' text but not their offsets."""
    return "\n".join(
        json.dumps(
            {
                "id": f.id,
                "doc_id": f.doc_id,
                "claim": f.claim,
                "tags": f.tags,
                "confidence": f.confidence,
                "quotes": [e.quote for e in f.evidence],
            },
            ensure_ascii=False,
        )
        for f in findings
    )
