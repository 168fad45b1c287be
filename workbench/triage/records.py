"""What triage writes per ticket (`TicketLabel`), and its view as a reviewable Finding.

A ticket's label records what the engine predicted (category, calibrated confidence,
the class probabilities, the verbatim quotes that decided it), what else a person
should know (flags), and, after review, the category it ends up in and how:

    status  auto        above the review threshold, kept as predicted
            accepted    queued for review and accepted (by a person or the batch policy)
            relabelled  queued, and a person gave another category
            rejected    queued and rejected: it has no category until someone gives one
            labelled    the team had already labelled it (the labelled file has it)
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, Field

from subagents.findings import Evidence, Finding

Status = Literal["auto", "accepted", "relabelled", "rejected", "labelled"]
Source = Literal["offline", "model", "labelled"]


class TicketLabel(BaseModel):
    doc_id: str
    ticket_id: str
    title: str
    group: str | None = None
    predicted: str | None  # None: the engine gave no category (it abstained)
    confidence: float = Field(ge=0.0, le=1.0)
    probabilities: dict[str, float] = Field(default_factory=dict)
    evidence: list[Evidence] = Field(default_factory=list)
    reason: str = ""
    flags: list[str] = Field(default_factory=list)
    source: Source = "offline"
    category: str | None = None  # the final category, after review
    status: Status = "auto"
    reviewed_by: str | None = None

    @property
    def finding_id(self) -> str:
        return finding_id(self.doc_id)


def finding_id(doc_id: str) -> str:
    return "tri-" + hashlib.sha256(doc_id.encode()).hexdigest()[:12]


def claim_of(label: TicketLabel) -> str:
    cat = label.predicted if label.predicted is not None else "no category"
    return f"{cat}: {label.title}"


def to_finding(label: TicketLabel, task_key: str) -> Finding | None:
    """The label as a Finding (for the review queue, the gates and the findings table)."""
    if not label.evidence:
        return None
    return Finding(
        id=label.finding_id,
        task_key=task_key,
        doc_id=label.doc_id,
        claim=claim_of(label),
        evidence=label.evidence,
        confidence=label.confidence,
        tags=[f"category:{label.predicted}"] + ([f"group:{label.group}"] if label.group else []),
        engine="model" if label.source == "model" else "offline",
    )


def apply_decision(label: TicketLabel, decision: dict[str, Any] | None) -> TicketLabel:
    """The label after its review decision (None: it was not queued)."""
    if label.source == "labelled":
        return label.model_copy(update={"category": label.predicted, "status": "labelled"})
    if decision is None:
        return label.model_copy(update={"category": label.predicted, "status": "auto"})
    by = decision.get("by")
    kind = decision.get("decision")
    if kind == "accept":
        return label.model_copy(
            update={"category": label.predicted, "status": "accepted", "reviewed_by": by}
        )
    if kind == "edit":
        return label.model_copy(
            update={"category": decision.get("claim"), "status": "relabelled", "reviewed_by": by}
        )
    return label.model_copy(update={"category": None, "status": "rejected", "reviewed_by": by})
