"""The engine contract: what the orchestrator asks of an engine, and the typed task and
result every engine's analyse task takes and gives.

Both engines (`engines.offline`, `engines.model`) implement `Engine`; the registry
(`engines.registry`) builds them by name. A task's result is built by one function,
`analysis_result`, and stored as plain JSON (`AnalysisResult.as_stored()`), so a run
folder written before the contract still resumes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from workbench.runs.store import now_iso

if TYPE_CHECKING:
    from subagents.codebook import Codebook
    from subagents.findings import Finding, Synthesis
    from subagents.outputs import CriticOutput, PlanOutput
    from workbench.runs.fanout import Task


class AnalysisTask(BaseModel):
    """The payload of an analyse task: documents and the question to read them for."""

    model_config = ConfigDict(extra="allow")

    doc_ids: list[str] = Field(min_length=1)
    question: str
    sub_question: str | None = None
    subagent: str | None = None  # the analyst a planned stage names
    goal: str | None = None  # the planned stage's goal
    notes: list[str] = Field(default_factory=list)  # the critic's corrections (data)

    @property
    def asked(self) -> str:
        """The question this task answers (its sub-question, else the run's)."""
        return self.sub_question or self.question


class TaskSpend(BaseModel):
    """What a model engine's task spent."""

    usage: dict[str, Any]
    cost_usd: str
    steps: int


class AnalysisResult(BaseModel):
    """An analyse task's result: its findings (as JSON), the documents it abstained on
    with the reason, the steering it ran under, what it spent."""

    doc_ids: list[str]
    doc_id: str
    findings: list[dict[str, Any]]
    abstained: dict[str, str] = Field(default_factory=dict)
    steering: list[str] = Field(default_factory=list)
    spent: TaskSpend | None = None
    requests: int | None = None  # the task's documents did not fit one request
    finished_at: str

    def as_stored(self) -> dict[str, Any]:
        """The result as the task store keeps it (unset optional parts left out)."""
        return self.model_dump(mode="json", exclude_none=True)


def analysis_result(
    task: Task,
    findings: Sequence[Finding],
    *,
    abstained: Mapping[str, str] | None = None,
    spent: TaskSpend | None = None,
    requests: int | None = None,
) -> dict[str, Any]:
    """The one builder of an analyse task's result, for every engine."""
    payload = AnalysisTask.model_validate(task.payload)
    return AnalysisResult(
        doc_ids=payload.doc_ids,
        doc_id=payload.doc_ids[0],
        findings=[f.model_dump(mode="json") for f in findings],
        abstained=dict(abstained or {}),
        steering=list(task.steering),
        spent=spent,
        requests=requests,
        finished_at=now_iso(),
    ).as_stored()


class Engine(Protocol):
    """What the orchestrator asks of an engine (`engines.registry` builds them by name)."""

    name: str
    uses_model: bool  # a language model writes its findings (claims are checked too)
    note: str  # the engine note every output carries
    short: str
    models: dict[str, str]  # tier -> model id ({} without a model)
    codebook: Codebook | None

    def version(self, subagent: str) -> str: ...

    def synthesis_version(self) -> str: ...

    async def analyze(self, task: Task) -> dict[str, Any]: ...

    async def plan(
        self, question: str, corpus_description: str, steering: Sequence[str] = ()
    ) -> PlanOutput | None: ...

    async def synthesize(
        self,
        findings: Sequence[Finding],
        doc_ids: list[str],
        *,
        noun: str,
        question: str,
        steering: Sequence[str] = (),
    ) -> Synthesis: ...

    async def critique(
        self, findings: Sequence[Finding], synthesis: Synthesis, *, question: str
    ) -> CriticOutput: ...
