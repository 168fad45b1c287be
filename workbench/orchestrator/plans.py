"""Plans: stages of sub-agents with fan-out and dependencies; recipes; planner output.

A `Plan` is what `plan.json` holds and what a person approves or edits: an ordered
list of stages, each run by one existing sub-agent, fanned out over documents, batches
of documents or sub-questions (or run once), with the stages it depends on and the
gates its results must pass. Recipes (`themes`, `triage`, `repo-map`,
`compare-segments`) are deterministic plans; with a model configured, the `planner`
sub-agent may propose one (`recipe="auto"`), constrained to the sub-agents that exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from workbench.core.errors import UserError

if TYPE_CHECKING:
    from subagents.outputs import PlanOutput
    from workbench.runs.corpus import Corpus

StageKind = Literal["analyze", "synthesize", "critic", "charts", "export"]
FanOut = Literal["documents", "batches", "sub_questions", "none"]
GATES = ("schema", "quotes", "coverage")

# which kind of stage each built-in sub-agent runs; project sub-agents with an analyst
# output schema are analysts too (see `stage_kind`)
KIND_OF = {
    "interview-analyst": "analyze",
    "ticket-analyst": "analyze",
    "code-navigator": "analyze",
    "theme-synthesizer": "synthesize",
    "critic": "critic",
    "chart-maker": "charts",
}


class Stage(BaseModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    subagent: str
    kind: StageKind
    goal: str = ""
    fan_out: FanOut = "none"
    batch_size: int = Field(default=1, ge=1)
    sub_questions: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    gates: list[str] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)


class Plan(BaseModel):
    """An approved plan; see the module docstring."""

    recipe: str | None = None
    source: Literal["recipe", "planner", "user"] = "recipe"
    question: str
    rationale: str = ""
    stages: list[Stage] = Field(min_length=1)

    def stage(self, stage_id: str) -> Stage:
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(stage_id)

    def of_kind(self, kind: StageKind) -> list[Stage]:
        return [s for s in self.ordered() if s.kind == kind]

    def ordered(self) -> list[Stage]:
        """Stages in dependency order (stable: the listed order where free)."""
        done: list[Stage] = []
        seen: set[str] = set()
        pending = list(self.stages)
        while pending:
            ready = [s for s in pending if set(s.depends_on) <= seen]
            if not ready:
                raise UserError(
                    "the plan's dependencies form a cycle between stages "
                    f"{[s.id for s in pending]}; remove one of the depends_on entries"
                )
            s = ready[0]
            done.append(s)
            seen.add(s.id)
            pending.remove(s)
        return done

    def validate_against(self, subagents: Iterable[str]) -> Plan:
        """Every stage uses an existing sub-agent, ids are unique, dependencies exist."""
        known = set(subagents)
        ids = [s.id for s in self.stages]
        if len(set(ids)) != len(ids):
            raise UserError(f"stage ids must be unique; got {ids}")
        for s in self.stages:
            if s.kind != "export" and s.subagent not in known:
                raise UserError(
                    f"stage {s.id!r} uses sub-agent {s.subagent!r}, which does not exist; "
                    f"choose one of {sorted(known)}"
                )
            missing = [d for d in s.depends_on if d not in ids]
            if missing:
                raise UserError(f"stage {s.id!r} depends on unknown stages {missing}")
            bad = [g for g in s.gates if g not in GATES]
            if bad:
                raise UserError(f"stage {s.id!r}: unknown gates {bad}; choose from {GATES}")
        if not self.of_kind("analyze"):
            raise UserError("a plan needs at least one analyst stage (fan-out over the corpus)")
        self.ordered()
        return self

    @classmethod
    def from_user(cls, data: dict[str, Any] | Plan, subagents: Iterable[str]) -> Plan:
        """A plan edited by a person: validated, marked `source="user"`."""
        try:
            plan = data if isinstance(data, Plan) else cls.model_validate(data)
        except ValidationError as e:
            raise UserError(f"the edited plan is not valid: {e}") from e
        return plan.model_copy(update={"source": "user"}).validate_against(subagents)


def analyst_for(corpus: Corpus) -> str:
    kinds = {d.kind for d in corpus.documents}
    if kinds == {"ticket"}:
        return "ticket-analyst"
    if kinds == {"code"}:
        return "code-navigator"
    return "interview-analyst"


def _tail(analyze_id: str, *, charts: bool = True) -> list[Stage]:
    stages = [
        Stage(
            id="synthesize",
            subagent="theme-synthesizer",
            kind="synthesize",
            goal="group the findings into themes with prevalence (n of N documents)",
            depends_on=[analyze_id],
        ),
        Stage(
            id="critic",
            subagent="critic",
            kind="critic",
            goal="check claims, quotes and counts; ask for a revision when they fail",
            depends_on=["synthesize"],
        ),
    ]
    last = "critic"
    if charts:
        stages.append(
            Stage(
                id="charts",
                subagent="chart-maker",
                kind="charts",
                goal="chart prevalence, sentiment and segments from the findings table",
                depends_on=["critic"],
            )
        )
        last = "charts"
    stages.append(Stage(id="export", subagent="", kind="export", depends_on=[last]))
    return stages


def themes_plan(corpus: Corpus, question: str, *, batch_size: int = 10) -> Plan:
    analyst = analyst_for(corpus)
    per_batch = analyst == "ticket-analyst" and len(corpus) > batch_size
    return Plan(
        recipe="themes",
        question=question,
        rationale="one analyst per document, then themes with prevalence, a critic, charts",
        stages=[
            Stage(
                id="analyze",
                subagent=analyst,
                kind="analyze",
                goal="findings with verbatim quotes that answer the question",
                fan_out="batches" if per_batch else "documents",
                batch_size=batch_size if per_batch else 1,
                gates=list(GATES),
            ),
            *_tail("analyze"),
        ],
    )


def triage_plan(corpus: Corpus, question: str, *, batch_size: int = 10) -> Plan:
    return Plan(
        recipe="triage",
        question=question,
        rationale="tickets in batches: symptom, cause, area and impact per ticket, then themes",
        stages=[
            Stage(
                id="analyze",
                subagent="ticket-analyst",
                kind="analyze",
                goal="per ticket: the problem, its cause, product area and impact, quoted",
                fan_out="batches",
                batch_size=batch_size,
                gates=list(GATES),
            ),
            *_tail("analyze"),
        ],
    )


def repo_map_plan(corpus: Corpus, question: str, *, batch_size: int = 10) -> Plan:
    return Plan(
        recipe="repo-map",
        question=question,
        rationale="files in batches: components, responsibilities and dependencies, then a map",
        stages=[
            Stage(
                id="analyze",
                subagent="code-navigator",
                kind="analyze",
                goal="components with their files and line ranges, cited verbatim",
                fan_out="batches",
                batch_size=batch_size,
                gates=list(GATES),
            ),
            *_tail("analyze"),
        ],
    )


def compare_segments_plan(corpus: Corpus, question: str, *, batch_size: int = 10) -> Plan:
    plan = themes_plan(corpus, question, batch_size=batch_size)
    plan = plan.model_copy(
        update={
            "recipe": "compare-segments",
            "rationale": "themes per document, then prevalence compared across segments",
        }
    )
    plan.stage("synthesize").options["compare_by"] = "segment"
    return plan


RECIPES: dict[str, Callable[..., Plan]] = {
    "themes": themes_plan,
    "triage": triage_plan,
    "repo-map": repo_map_plan,
    "compare-segments": compare_segments_plan,
}


def recipe_plan(recipe: str, corpus: Corpus, question: str, *, batch_size: int = 10) -> Plan:
    if recipe not in RECIPES:
        raise UserError(f"unknown recipe {recipe!r}; available: {', '.join(RECIPES)}, auto")
    return RECIPES[recipe](corpus, question, batch_size=batch_size)


def stage_kind(subagent: str, output_schema: str | None = None) -> StageKind | None:
    if subagent in KIND_OF:
        return KIND_OF[subagent]  # type: ignore[return-value]
    if output_schema in ("analyst-findings", "code-map"):
        return "analyze"
    return None


def plan_from_planner(
    out: PlanOutput, question: str, subagents: dict[str, str | None], *, batch_size: int = 10
) -> Plan:
    """The planner's output as a Plan; stages naming unknown sub-agents are refused."""
    stages: list[Stage] = []
    for ps in out.stages:
        if ps.subagent not in subagents:
            raise UserError(f"the planner used an unknown sub-agent {ps.subagent!r}")
        kind = stage_kind(ps.subagent, subagents[ps.subagent])
        if kind is None:
            raise UserError(f"the planner used {ps.subagent!r}, which cannot run as a stage")
        sid = "".join(c if c.isalnum() or c in "-_" else "-" for c in ps.id.lower()) or kind
        if not sid[0].isalpha():
            sid = f"s-{sid}"
        stages.append(
            Stage(
                id=sid,
                subagent=ps.subagent,
                kind=kind,
                goal=ps.goal,
                fan_out=ps.fan_out if kind == "analyze" else "none",
                batch_size=batch_size if ps.fan_out == "batches" else 1,
                sub_questions=ps.sub_questions,
                depends_on=[d for d in ps.depends_on if d],
                gates=list(GATES) if kind == "analyze" else [],
            )
        )
    ids = {s.id for s in stages}
    for s in stages:
        s.depends_on = [d for d in s.depends_on if d in ids]
    if not any(s.kind == "synthesize" for s in stages):
        first = next((s.id for s in stages if s.kind == "analyze"), None)
        stages.append(
            Stage(
                id="synthesize",
                subagent="theme-synthesizer",
                kind="synthesize",
                depends_on=[first] if first else [],
            )
        )
    last = stages[-1].id
    stages.append(Stage(id="export", subagent="", kind="export", depends_on=[last]))
    plan = Plan(
        recipe="auto", source="planner", question=question, rationale=out.rationale, stages=stages
    )
    return plan.validate_against(subagents)
