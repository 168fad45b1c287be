"""What the exports render: a plain, self-contained description of a run's results.

The workbench layer converts its findings and themes into a `ReportSpec`; the deck,
the HTML report and the Markdown report are all rendered from it, so they cannot
disagree with each other. Nothing here refers to objects of other packages.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TurnSpec(BaseModel):
    """One turn of the source around a quote, as a reader sees it (markup cleaned)."""

    speaker: str | None = None
    text: str  # the whole turn, display text
    # the quote's place in `text`, for the quote's own turn (None for neighbouring turns)
    quote_start: int | None = None
    quote_end: int | None = None


class QuoteSpec(BaseModel):
    text: str  # verbatim from the source (what the checks compare)
    display: str = ""  # the same words as a reader sees them: transcript markup removed
    speaker: str | None = None
    role: str | None = None  # "participant" / "interviewer" when known
    doc_id: str
    doc_title: str
    segment_id: str
    # the source document's kind ("conversation", "ticket", "text", "code"): only a
    # conversation has speakers, so only there is a missing one worth saying
    source_kind: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    context_before: str = ""  # the neighbouring source text, for "quote in context"
    context_after: str = ""
    # the prompt that drew the quote (an interviewer's question, a ticket's title)
    prompt: str | None = None
    prompt_speaker: str | None = None
    # the quote's own turn whole, with the turns around it and their speakers
    turns: list[TurnSpec] = Field(default_factory=list)
    confidence: float | None = None
    finding_id: str | None = None  # the finding it is the evidence of (a `FindingRow`)
    media_path: str | None = None  # a clip file (relative to the run dir) if one was cut

    @property
    def shown(self) -> str:
        return self.display or self.text


class ChartSpec(BaseModel):
    id: str
    title: str
    png_path: str  # relative to the run directory
    svg_path: str | None = None
    code_path: str | None = None  # the code that drew it, kept beside it
    data_path: str | None = None  # the numbers it was drawn from
    alt_text: str = ""
    caption: str = ""  # how to read it, one sentence shown under it


class CodeSpec(BaseModel):
    """A sub-code of a theme with its own prevalence."""

    label: str
    description: str = ""
    n_documents: int
    n_participants: int | None = None
    quotes: list[QuoteSpec] = Field(default_factory=list)


class ThemeSpec(BaseModel):
    id: str
    label: str
    summary: str
    n_documents: int
    total_documents: int
    quotes: list[QuoteSpec] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    chart_id: str | None = None  # the chart that shows this theme
    confidence: float | None = None
    description: str = ""  # one sentence drawn from the theme's evidence
    codes: list[CodeSpec] = Field(default_factory=list)
    n_participants: int | None = None
    total_participants: int | None = None
    flags: list[str] = Field(default_factory=list)  # the critic's notes on this theme


class PartSpec(BaseModel):
    """One part of a several-part question ("… and what worries them?") with the themes
    that answer it most (ids of `ReportSpec.themes`, most relevant first) and the quotes
    that answer it best."""

    question: str
    theme_ids: list[str] = Field(default_factory=list)
    quotes: list[QuoteSpec] = Field(default_factory=list)


class FindingRow(BaseModel):
    """One row of the appendix table of findings."""

    finding_id: str
    theme_id: str | None
    doc_title: str
    # the claim when it says something the quote does not (model engine); None when it
    # only renders the quote (offline engine), so no column repeats the quote
    claim: str | None
    quote: str  # verbatim
    confidence: float
    doc_id: str | None = None  # lets the checks find the quote's source
    display: str = ""  # the quote as a reader sees it (markup removed)
    theme_label: str | None = None
    code_label: str | None = None
    speaker: str | None = None
    prompt: str | None = None  # what was asked


class RoleRow(BaseModel):
    """Who was treated as interviewer in one conversation, and why."""

    doc_title: str
    interviewers: list[str] = Field(default_factory=list)
    participants: list[str] = Field(default_factory=list)
    how: str = ""  # the plain-words reason


class ReportSpec(BaseModel):
    title: str
    question: str
    engine: str  # "offline" or "model"
    engine_note: str  # e.g. "Produced by the offline engine (no language model was used)."
    created_at: str  # ISO 8601
    run_id: str
    corpus_name: str
    n_documents: int
    noun: str = "documents"  # what the documents are called: "conversations", "tickets" ...
    executive_summary: list[str]  # bullet sentences
    themes: list[ThemeSpec]
    # the question answered part by part (empty for a question of one part)
    parts: list[PartSpec] = Field(default_factory=list)
    unassigned: list[str] = Field(default_factory=list)  # titles of documents that fit no theme
    unassigned_reasons: dict[str, str] = Field(default_factory=dict)  # title -> why
    not_analysed: dict[str, str] = Field(default_factory=dict)  # title -> why (another language)
    speaker_roles: list[RoleRow] = Field(default_factory=list)
    reviewer_notes: list[str] = Field(default_factory=list)  # the critic's summary and flags
    # codes proposed outside the researcher's codebook (deductive runs), one line each, for
    # the researcher to accept or drop; never counted as the codebook's codes
    candidate_codes: list[str] = Field(default_factory=list)
    findings_csv: str | None = None  # the full findings table beside the deck (run-relative)
    charts: list[ChartSpec] = Field(default_factory=list)
    findings: list[FindingRow] = Field(default_factory=list)
    method: dict[str, Any] = Field(default_factory=dict)  # corpus, engine/models, cost, date ...
    cost_usd: float = 0.0
