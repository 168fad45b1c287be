"""Findings and evidence: what every analyst sub-agent returns, model or offline.

A finding is a claim about one document (or a set of them) backed by evidence. Evidence
is always a verbatim quote from a segment, with the ids and offsets needed to show it in
context; `subagents.verify` checks that every quote really is in its source.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Sentiment = Literal["positive", "negative", "neutral", "mixed"]


class Evidence(BaseModel):
    doc_id: str
    segment_id: str
    chunk_id: str | None = None
    quote: str  # verbatim substring of the segment's text
    speaker: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    start_char: int | None = None  # offsets of the quote in the document text
    end_char: int | None = None


class Finding(BaseModel):
    id: str
    task_key: str  # idempotency key of the task that produced it
    doc_id: str
    claim: str
    evidence: list[Evidence] = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0)
    sentiment: Sentiment = "neutral"
    tags: list[str] = Field(default_factory=list)
    engine: Literal["offline", "model"] = "offline"


class Theme(BaseModel):
    """A cross-document pattern: a readable label, the findings behind it, and its prevalence."""

    id: str
    label: str
    summary: str
    finding_ids: list[str]
    doc_ids: list[str]  # distinct documents with at least one finding in the theme
    n_documents: int  # len(doc_ids)
    total_documents: int  # the denominator: documents analysed
    keywords: list[str] = Field(default_factory=list)
    representative_finding_ids: list[str] = Field(default_factory=list)

    @property
    def prevalence(self) -> float:
        return self.n_documents / self.total_documents if self.total_documents else 0.0


class Synthesis(BaseModel):
    themes: list[Theme]
    unassigned_doc_ids: list[str] = Field(default_factory=list)  # documents that fit no theme
    outlier_finding_ids: list[str] = Field(default_factory=list)
    method: str = ""
