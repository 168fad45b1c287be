"""Findings and evidence: what every analyst sub-agent returns, model or offline.

A finding is a claim about one document (or a set of them) backed by evidence. Evidence
is always a verbatim quote from a segment, with the ids and offsets needed to show it in
context; `subagents.verify` checks that every quote really is in its source.

In a conversation the evidence is what a participant said; the interviewer's prompt that
drew it is kept beside it as `Finding.context` (itself verbatim evidence), never as the
finding. Themes hold codes (theme > code, as researchers code), each with its prevalence
in documents and, where speaker roles are known, in participants.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Sentiment = Literal["positive", "negative", "neutral", "mixed"]
SpeakerRole = Literal["interviewer", "participant", "maintainer"]
# whose words prompt the answers and are never evidence: an interviewer's questions, and on
# a ticket a maintainer's or a bot's replies (its reporter and users are the voices)
PROMPT_ROLES: frozenset[str] = frozenset({"interviewer", "maintainer"})


def is_prompt_role(role: str | None) -> bool:
    """Is `role` one whose words are prompts (context), never a finding's evidence?"""
    return role in PROMPT_ROLES


class Evidence(BaseModel):
    doc_id: str
    segment_id: str
    chunk_id: str | None = None
    quote: str  # verbatim substring of the segment's text
    speaker: str | None = None
    role: SpeakerRole | None = None  # None: the document's roles are unknown (no labels)
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
    # what drew the evidence: the interviewer's question, a ticket's title, the turn it
    # answers; shown with the finding, never counted as evidence
    context: Evidence | None = None
    # in a semi-structured interview, the guide question whose section the answer is in
    # (a question the interviewer asks in many interviews); None outside a guide
    section: Evidence | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    sentiment: Sentiment = "neutral"
    tags: list[str] = Field(default_factory=list)
    engine: Literal["offline", "model"] = "offline"


class Code(BaseModel):
    """A sub-code of a theme: a narrower pattern with its own prevalence."""

    id: str
    label: str
    description: str = ""
    finding_ids: list[str]
    doc_ids: list[str]
    n_documents: int
    n_participants: int | None = None  # distinct participants; None when roles are unknown
    keywords: list[str] = Field(default_factory=list)
    representative_finding_ids: list[str] = Field(default_factory=list)


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
    description: str = ""  # one sentence drawn from the theme's evidence
    codes: list[Code] = Field(default_factory=list)
    n_participants: int | None = None  # distinct participants; None when roles are unknown
    total_participants: int | None = None
    flags: list[str] = Field(default_factory=list)  # the critic's notes on this theme

    @property
    def prevalence(self) -> float:
        return self.n_documents / self.total_documents if self.total_documents else 0.0


class QuestionPart(BaseModel):
    """One part of a several-part question ("... and what worries them?") with the themes
    and findings that answer it best, so no part of the question goes unanswered."""

    question: str
    theme_ids: list[str] = Field(default_factory=list)  # most relevant first
    finding_ids: list[str] = Field(default_factory=list)  # the findings that answer it best


class Synthesis(BaseModel):
    themes: list[Theme]
    parts: list[QuestionPart] = Field(default_factory=list)
    unassigned_doc_ids: list[str] = Field(default_factory=list)  # documents that fit no theme
    # why each unassigned document fits no theme ("no participant speech about the
    # question", "its findings fit no theme", ...)
    unassigned_reasons: dict[str, str] = Field(default_factory=dict)
    outlier_finding_ids: list[str] = Field(default_factory=list)
    method: str = ""
    # deductive runs: new codes proposed from what fit no code of the researcher's codebook,
    # kept apart from the themes until the researcher accepts them
    candidate_codes: list[Theme] = Field(default_factory=list)
