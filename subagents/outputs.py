"""Output schemas of the built-in sub-agents (pydantic), by the name specs use.

A spec's front matter names its schema (`output: analyst-findings`); the agent loop
gives the model a `final_output` tool with that JSON schema and validates the result.
Users register their own with `register_output_schema`. Analysts return
`FindingDraft`s whose evidence is `subagents.findings.Evidence`; `to_findings` adds the
ids the orchestrator owns (finding id, task key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from subagents.errors import SpecError
from subagents.findings import Evidence, Finding, Sentiment, Synthesis, Theme


class PlanStage(BaseModel):
    id: str = Field(description="short unique id, e.g. 'analyse'")
    subagent: str = Field(description="name of an existing sub-agent")
    goal: str = Field(description="what this stage must produce, in one sentence")
    fan_out: Literal["documents", "batches", "sub_questions", "none"] = "documents"
    sub_questions: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)


class PlanOutput(BaseModel):
    rationale: str
    stages: list[PlanStage] = Field(min_length=1)


class FindingDraft(BaseModel):
    claim: str = Field(min_length=3)
    evidence: list[Evidence] = Field(min_length=1)
    context: Evidence | None = Field(
        default=None, description="the interviewer's question (or other prompt) that drew it"
    )
    confidence: float = Field(ge=0.0, le=1.0)
    sentiment: Sentiment = "neutral"
    tags: list[str] = Field(default_factory=list)

    def to_finding(self, *, task_key: str, index: int, doc_id: str | None = None) -> Finding:
        digest = hashlib.sha256(f"{task_key}:{index}:{self.claim}".encode()).hexdigest()[:12]
        return Finding(
            id=f"f-{digest}",
            task_key=task_key,
            doc_id=doc_id or self.evidence[0].doc_id,
            claim=self.claim,
            evidence=self.evidence,
            context=self.context,
            confidence=self.confidence,
            sentiment=self.sentiment,
            tags=self.tags,
            engine="model",
        )


class AnalystOutput(BaseModel):
    summary: str = ""
    findings: list[FindingDraft] = Field(default_factory=list)

    def to_findings(self, task_key: str) -> list[Finding]:
        return [f.to_finding(task_key=task_key, index=i) for i, f in enumerate(self.findings)]


class CodeComponent(BaseModel):
    name: str
    purpose: str
    paths: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)


class CodeMapOutput(BaseModel):
    summary: str
    components: list[CodeComponent] = Field(default_factory=list)
    findings: list[FindingDraft] = Field(default_factory=list)


class ThemeDraft(BaseModel):
    label: str = Field(min_length=2, max_length=80)
    summary: str
    finding_ids: list[str] = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)


class SynthesisOutput(BaseModel):
    themes: list[ThemeDraft]
    outlier_finding_ids: list[str] = Field(default_factory=list)

    def to_synthesis(self, findings: Sequence[Finding], total_documents: int) -> Synthesis:
        """Prevalence is counted here from the findings, never taken from the model."""
        by_id = {f.id: f for f in findings}
        themes = []
        assigned: set[str] = set()
        for i, draft in enumerate(self.themes):
            ids = [fid for fid in draft.finding_ids if fid in by_id]
            docs = sorted({by_id[fid].doc_id for fid in ids})
            assigned.update(docs)
            themes.append(
                Theme(
                    id=f"t{i + 1}",
                    label=draft.label,
                    summary=draft.summary,
                    finding_ids=ids,
                    doc_ids=docs,
                    n_documents=len(docs),
                    total_documents=total_documents,
                    keywords=draft.keywords,
                    representative_finding_ids=ids[:3],
                )
            )
        all_docs = sorted({f.doc_id for f in findings})
        return Synthesis(
            themes=themes,
            unassigned_doc_ids=[d for d in all_docs if d not in assigned],
            outlier_finding_ids=[f for f in self.outlier_finding_ids if f in by_id],
            method="model: theme-synthesizer",
        )


class ChartOutput(BaseModel):
    title: str
    chart_type: Literal["bar", "stacked_bar", "line", "scatter", "heatmap", "table"]
    code: str = Field(description="the Python that produced the chart in the sandbox")
    finding_ids: list[str] = Field(default_factory=list)
    caption: str = Field(description="what the chart shows, with its denominator (n of N)")


class CriticIssue(BaseModel):
    finding_id: str | None = None
    theme_id: str | None = None
    kind: Literal[
        "unsupported_claim",
        "quote_not_verbatim",
        "count_inconsistent",
        "overgeneralization",
        "missing_evidence",
        "interviewer_voice",
        "one_speaker",
        "one_document",
        "near_duplicate",
        "restates_question",
        "other",
    ]
    detail: str
    severity: Literal["low", "medium", "high"] = "medium"


class CriticOutput(BaseModel):
    verdict: Literal["pass", "revise", "fail"]
    issues: list[CriticIssue] = Field(default_factory=list)
    summary: str = ""


class QueryItem(BaseModel):
    chunk_index: int = Field(ge=0)
    queries: list[str]


class QueryWriterOutput(BaseModel):
    items: list[QueryItem]


class TicketCategoryDraft(BaseModel):
    """One ticket's category from the ticket-analyst in triage mode."""

    doc_id: str = Field(description="the ticket's document id, as given")
    category: str | None = Field(
        description="one of the given categories, exactly as spelled; null if none fits"
    )
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(
        default_factory=list,
        description="verbatim quotes from this ticket's segments that decided the category",
    )
    reason: str = Field(default="", description="one sentence: why this category (or none)")


class TriageOutput(BaseModel):
    tickets: list[TicketCategoryDraft]


class AbstainArgs(BaseModel):
    reason: str = Field(min_length=3, description="why there is not enough evidence to answer")


OUTPUT_SCHEMAS: dict[str, type[BaseModel]] = {
    "plan": PlanOutput,
    "analyst-findings": AnalystOutput,
    "code-map": CodeMapOutput,
    "themes": SynthesisOutput,
    "chart": ChartOutput,
    "critique": CriticOutput,
    "queries": QueryWriterOutput,
    "ticket-categories": TriageOutput,
}


def register_output_schema(name: str, model: type[BaseModel]) -> None:
    """Make `model` usable as `output: <name>` in a spec (e.g. for project sub-agents)."""
    OUTPUT_SCHEMAS[name] = model


def output_schema(name: str) -> type[BaseModel]:
    try:
        return OUTPUT_SCHEMAS[name]
    except KeyError:
        raise SpecError(
            f"unknown output schema {name!r}; known: {sorted(OUTPUT_SCHEMAS)}. "
            "Register yours with subagents.outputs.register_output_schema(name, Model)."
        ) from None
