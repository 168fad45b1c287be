"""The model engine: the LLM sub-agents (planner, analysts, theme-synthesizer, critic).

Every call goes through one model stack, built per run:

    MeteredModel (budget caps, ledger, circuit breaker)
      -> CachedModel (cache.sqlite, content-addressed; optional)
        -> BatchedModel (Message Batches, batch runs only) -> AnthropicModel

or through a model the caller injects (`Project(model=...)`: a `FunctionModel`, an
`AnthropicModel` pointed at the fake server in tests). Analysts get the document as an
untrusted document block with segment ids, plus `search` and `read_segment` tools; the
system prompt and tool definitions are identical across a stage's tasks, so they are
served from the prompt cache after the first task; the synthesizer and critic get the
findings as shared context. Prevalence is always counted from finding ids, never taken
from the model, and every quote still passes the verbatim gate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from subagents.agent import Agent, AgentTask, ContextDocument, TraceEvent
from subagents.findings import Evidence, Finding, Synthesis
from subagents.models.messages import Model
from subagents.outputs import AnalystOutput, CodeMapOutput, CriticOutput, PlanOutput
from subagents.spec_loader import AgentSpec
from subagents.tools import ToolRegistry, read_segment_tool, search_tool
from workbench.errors import RunError
from workbench.fanout import Task
from workbench.store import now_iso

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from retrieval import HybridIndex
    from retrieval.types import Document, Segment
    from workbench.settings import Settings


def engine_note(models: dict[str, str]) -> str:
    named = ", ".join(f"{tier}: {m}" for tier, m in models.items())
    return (
        f"Produced by the model engine with language models ({named}). Findings and theme "
        "labels were written by the models; every quote was checked verbatim against its "
        "source and prevalence was counted from the findings, not by the models."
    )


def engine_short(models: dict[str, str]) -> str:
    return "Model engine: " + ", ".join(sorted(set(models.values())))


class _Search:
    def __init__(self, index: HybridIndex) -> None:
        self.index = index

    def search(self, query: str, *, k: int = 8, filters: Mapping[str, Any] | None = None) -> Any:
        filters = dict(filters or {})
        doc_id = filters.pop("doc_id", None)
        return self.index.search(
            query, k=k, doc_ids=[str(doc_id)] if doc_id else None, where=filters or None
        )


class _Reader:
    def __init__(self, docs: dict[str, Document]) -> None:
        self.docs = docs

    def read_segment(self, segment_id: str) -> Segment:
        doc = self.docs.get(segment_id.split("#", 1)[0])
        if doc is None:
            raise KeyError(segment_id)
        return doc.segment(segment_id)


def render_document(doc: Document) -> str:
    """The document as the model sees it: one line per segment, led by its id."""
    lines = []
    for s in doc.segments:
        head = s.id
        if s.speaker:
            head += f" {s.speaker}"
        if s.attrs.get("role"):
            head += f" [{s.attrs['role']}]"
        if s.start_time is not None:
            head += f" [{s.start_time:.1f}s]"
        elif s.start_line is not None:
            head += f" [lines {s.start_line}-{s.end_line}]"
        lines.append(f"{head}: {s.text}")
    return "\n".join(lines)


def _filled(ev: Evidence, docs: dict[str, Document]) -> Evidence:
    doc = docs.get(ev.doc_id)
    try:
        seg = doc.segment(ev.segment_id) if doc else None
    except KeyError:
        seg = None
    if seg is None or ev.quote not in seg.text:
        return ev
    at = seg.text.index(ev.quote)
    return Evidence(
        doc_id=ev.doc_id,
        segment_id=seg.id,
        chunk_id=ev.chunk_id,
        quote=ev.quote,
        speaker=seg.speaker or ev.speaker,
        role=seg.attrs.get("role"),
        start_time=seg.start_time,
        end_time=seg.end_time,
        start_char=seg.start_char + at,
        end_char=seg.start_char + at + len(ev.quote),
    )


def fill_evidence(f: Finding, docs: dict[str, Document]) -> Finding:
    """Offsets, speaker, role and times from the cited segments (the gate checks the quote);
    the prompt a finding names as its context gets the same."""
    update: dict[str, Any] = {"evidence": [_filled(ev, docs) for ev in f.evidence]}
    if f.context is not None:
        update["context"] = _filled(f.context, docs)
    return f.model_copy(update=update)


class ModelEngine:
    name = "model"

    def __init__(
        self,
        settings: Settings,
        model: Model,
        specs: dict[str, AgentSpec],
        index: HybridIndex,
        docs: dict[str, Document],
        *,
        tracer: Tracer | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.specs = specs
        self.docs = docs
        self.tracer = tracer
        self.tools = ToolRegistry([search_tool(_Search(index)), read_segment_tool(_Reader(docs))])
        resolve: Callable[[Any], str] | None = getattr(model, "model_id", None)
        self.models = {tier: self._model_for(tier, resolve) for tier in ("lead", "worker", "fast")}
        self.note = engine_note(self.models)
        self.short = engine_short(self.models)
        from workbench.codebook import codebook_for

        self.codebook = codebook_for(settings)

    def _model_for(self, tier: str, resolve: Callable[[Any], str] | None) -> str:
        from subagents.models.messages import ModelRequest

        if resolve is None:
            return str(getattr(self.model, "model_id", None) or getattr(self.model, "name", tier))
        return resolve(ModelRequest(messages=[], tier=tier))  # type: ignore[arg-type]

    # -- agents -----------------------------------------------------------------------------
    def spec(self, name: str) -> AgentSpec:
        if name not in self.specs:
            raise RunError(f"no sub-agent named {name!r}; available: {sorted(self.specs)}")
        spec = self.specs[name]
        b = self.settings.budgets
        update: dict[str, Any] = {}
        if b.max_steps_per_task is not None:
            update["max_steps"] = b.max_steps_per_task
        if b.max_tokens_per_task is not None:
            update["max_tokens"] = b.max_tokens_per_task
        return spec.model_copy(update=update) if update else spec

    def version(self, subagent: str) -> str:
        spec = self.spec(subagent)
        tag = f"+codebook/{self.codebook.content_hash}" if self.codebook is not None else ""
        return f"{spec.name}/{spec.prompt_hash}/{self.models[spec.tier]}{tag}"

    def synthesis_version(self) -> str:
        return self.version("theme-synthesizer")

    def agent(self, name: str) -> Agent:
        per_task = self.settings.budgets.max_usd_per_task
        return Agent(
            self.spec(name),
            self.model,
            self.tools,
            max_cost_usd=Decimal(str(per_task)) if per_task is not None else None,
            on_event=self._on_event,
        )

    def _on_event(self, ev: TraceEvent) -> None:
        if self.tracer is None or ev.kind == "model_call":
            return  # model calls are traced by the run's MeteredModel (all of them)
        start = int(ev.started * 1e9)
        name = f"chat {ev.attrs.get('gen_ai.request.model', '')}".strip()
        if ev.kind == "tool_call":
            name = f"execute_tool {ev.name}"
        attrs: dict[str, str | int | float | bool] = {"gen_ai.system": "anthropic"}
        for k, v in ev.attrs.items():
            if v is None:
                continue
            attrs[k] = v if isinstance(v, str | int | float | bool) else json.dumps(v, default=str)
        span = self.tracer.start_span(name, start_time=start, attributes=attrs)
        span.end(end_time=start + int(ev.duration_s * 1e9))

    async def _run(self, name: str, task: AgentTask, what: str) -> Any:
        result = await self.agent(name).run(task)
        if not result.ok:
            raise RunError(f"{name} stopped without a result: {result.message}", task=what)
        return result

    # -- stages ------------------------------------------------------------------------------
    async def analyze(self, task: Task) -> dict[str, Any]:
        p = task.payload
        subagent = p.get("subagent") or "interview-analyst"
        docs = [self.docs[d] for d in p["doc_ids"]]
        lines = [f"Research question: {p['question']}"]
        if p.get("sub_question"):
            lines.append(f"Answer this sub-question of it: {p['sub_question']}")
        if p.get("goal"):
            lines.append(f"Goal of this stage: {p['goal']}")
        lines.append(
            "Documents to analyse (each is given as a document block; every line starts with "
            "its segment id): " + ", ".join(f"{d.id} ({d.title})" for d in docs)
        )
        lines.append(
            "Quote verbatim: each quote must be an exact substring of the text of the segment "
            "whose segment_id you give."
        )
        lines.append(
            "Whose words count: a line marked [interviewer] is a prompt, never evidence; quote "
            "[participant] lines (or unmarked lines where a document has no roles). Give the "
            "question that drew a finding as its `context` (that line's segment_id and the "
            "exact question). Interview guide questions and restatements of the research "
            "question are not findings. Report as many findings as the document supports, "
            "none if it does not address the question."
        )
        if self.codebook is not None:  # the researcher's own file: trusted instructions
            from subagents.codebook import codebook_instructions

            lines.append(codebook_instructions(self.codebook))
        if task.steering:
            lines.append("Steering from the researcher (apply it to this task):")
            lines.extend(f"- {s}" for s in task.steering)
        if p.get("notes"):
            lines.append("The critic asked for these corrections:")
            lines.extend(f"- {n}" for n in p["notes"])
        agent_task = AgentTask(
            instructions="\n".join(lines),
            inputs={"doc_ids": p["doc_ids"], "question": p["question"]},
            context=[
                ContextDocument(id=d.id, title=d.title, text=render_document(d)) for d in docs
            ],
        )
        result = await self.agent(subagent).run(agent_task)
        abstained: dict[str, str] = {}
        findings: list[Finding] = []
        if result.status == "abstained":
            abstained = {d: result.abstain_reason or "" for d in p["doc_ids"]}
        elif not result.ok:
            raise RunError(f"{subagent} stopped without a result: {result.message}", task=task.key)
        elif isinstance(result.output, AnalystOutput | CodeMapOutput):
            drafts = result.output.findings
            findings = [
                fill_evidence(d.to_finding(task_key=task.key, index=i), self.docs)
                for i, d in enumerate(drafts)
            ]
        return {
            "doc_ids": p["doc_ids"],
            "doc_id": p["doc_ids"][0],
            "findings": [f.model_dump(mode="json") for f in findings],
            "abstained": abstained,
            "steering": list(task.steering),
            "spent": {
                "usage": result.usage.model_dump(),
                "cost_usd": str(result.cost_usd),
                "steps": result.steps,
            },
            "finished_at": now_iso(),
        }

    async def synthesize(
        self,
        findings: Sequence[Finding],
        doc_ids: list[str],
        *,
        noun: str,
        question: str,
        steering: Sequence[str] = (),
    ) -> Synthesis:
        from subagents.outputs import SynthesisOutput

        if self.codebook is not None:  # deductive: themes are the codebook's codes
            from subagents.codebook import synthesis_from_tags

            return synthesis_from_tags(self.codebook, findings, doc_ids, noun=noun)
        lines = [
            f"Research question: {question}",
            f"{len(findings)} findings from {len(doc_ids)} {noun} are given as JSON lines in "
            "the document block. Group them into themes.",
        ]
        if steering:
            lines.append("Steering from the researcher:")
            lines.extend(f"- {s}" for s in steering)
        task = AgentTask(
            instructions="\n".join(lines),
            inputs={"total_documents": len(doc_ids)},
            context=[
                ContextDocument(id="findings", title="findings", text=_findings_jsonl(findings))
            ],
            shared_context=True,
        )
        result = await self._run("theme-synthesizer", task, "synthesize")
        out = result.output
        if not isinstance(out, SynthesisOutput):
            raise RunError("theme-synthesizer returned no themes", stage="synthesize")
        synthesis = out.to_synthesis(findings, len(doc_ids))
        analysed = set(doc_ids)
        assigned = {d for t in synthesis.themes for d in t.doc_ids}
        return synthesis.model_copy(update={"unassigned_doc_ids": sorted(analysed - assigned)})

    async def critique(
        self, findings: Sequence[Finding], synthesis: Synthesis, *, question: str
    ) -> CriticOutput:
        themes = [
            {
                "id": t.id,
                "label": t.label,
                "finding_ids": t.finding_ids,
                "n_documents": t.n_documents,
            }
            for t in synthesis.themes
        ]
        task = AgentTask(
            instructions=f"Research question: {question}\nReview the findings and themes given "
            "as data (JSON lines: findings, then themes).",
            context=[
                ContextDocument(id="findings", title="findings", text=_findings_jsonl(findings)),
                ContextDocument(id="themes", title="themes", text=json.dumps(themes)),
            ],
            shared_context=True,
        )
        result = await self._run("critic", task, "critic")
        if not isinstance(result.output, CriticOutput):
            raise RunError("the critic returned no verdict", stage="critic")
        return result.output

    async def plan(
        self, question: str, corpus_description: str, steering: Sequence[str] = ()
    ) -> PlanOutput:
        catalogue = "\n".join(
            f"- {s.name}: {s.description}" for s in self.specs.values() if s.name != "planner"
        )
        lines = [
            f"Research question: {question}",
            f"Corpus: {corpus_description}",
            f"Sub-agents that exist (use only these):\n{catalogue}",
        ]
        if steering:
            lines.append("Steering from the researcher:")
            lines.extend(f"- {s}" for s in steering)
        result = await self._run("planner", AgentTask(instructions="\n".join(lines)), "plan")
        if not isinstance(result.output, PlanOutput):
            raise RunError("the planner returned no plan", stage="plan")
        return result.output


def _findings_jsonl(findings: Sequence[Finding]) -> str:
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


def build_model(settings: Settings, cache_path: Any, injected: Model | None = None) -> Model:
    """The run's model stack below the meter (see the module docstring)."""
    from subagents.models.cached import CachedModel

    if injected is not None:
        model: Model = injected
    else:
        import os

        from subagents.models.anthropic import AnthropicModel

        m = settings.models
        anthropic = AnthropicModel(
            api_key=os.environ.get("ANTHROPIC_API_KEY"),
            base_url=m.base_url or os.environ.get("ANTHROPIC_BASE_URL"),
            tiers={"lead": m.lead, "worker": m.worker, "fast": m.fast},
        )
        model = anthropic
        if m.batch:
            from workbench.batching import BatchedModel

            model = BatchedModel(
                anthropic, window_s=m.batch_window_s, poll_interval_s=m.batch_poll_s
            )
    if settings.models.cache:
        model = CachedModel(model, cache_path)
    return model
