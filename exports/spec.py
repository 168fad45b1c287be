"""What the exports render: a plain, self-contained description of a run's results.

The workbench layer converts its findings and themes into a `ReportSpec`; the deck,
the HTML report and the Markdown report are all rendered from it, so they cannot
disagree with each other. Nothing here refers to objects of other packages.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class QuoteSpec(BaseModel):
    text: str  # verbatim from the source
    speaker: str | None = None
    doc_id: str
    doc_title: str
    segment_id: str
    start_time: float | None = None
    end_time: float | None = None
    context_before: str = ""  # the neighbouring source text, for "quote in context"
    context_after: str = ""
    confidence: float | None = None
    media_path: str | None = None  # a clip file (relative to the run dir) if one was cut


class ChartSpec(BaseModel):
    id: str
    title: str
    png_path: str  # relative to the run directory
    svg_path: str | None = None
    code_path: str | None = None  # the code that drew it, kept beside it
    data_path: str | None = None  # the numbers it was drawn from
    alt_text: str = ""


class ThemeSpec(BaseModel):
    id: str
    label: str
    summary: str
    n_documents: int
    total_documents: int
    quotes: list[QuoteSpec] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    chart_id: str | None = None
    confidence: float | None = None


class FindingRow(BaseModel):
    """One row of the appendix table of findings."""

    finding_id: str
    theme_id: str | None
    doc_title: str
    claim: str
    quote: str
    confidence: float
    doc_id: str | None = None  # lets the checks find the quote's source


class ReportSpec(BaseModel):
    title: str
    question: str
    engine: str  # "offline" or "model"
    engine_note: str  # e.g. "Produced by the offline engine (no language model was used)."
    created_at: str  # ISO 8601
    run_id: str
    corpus_name: str
    n_documents: int
    executive_summary: list[str]  # bullet sentences
    themes: list[ThemeSpec]
    unassigned: list[str] = Field(default_factory=list)  # titles of documents that fit no theme
    charts: list[ChartSpec] = Field(default_factory=list)
    findings: list[FindingRow] = Field(default_factory=list)
    method: dict[str, Any] = Field(default_factory=dict)  # corpus, engine/models, cost, date ...
    cost_usd: float = 0.0
