"""Bounded synthesis and critique for the model engine: every request within the window.

When all findings fit one theme-synthesizer request, the engine makes that one call.
Otherwise the synthesis is hierarchical:

1. group: findings are grouped by their embeddings (recursive 2-means bisection,
   balanced) until each group's rows fit one request (`group_by_embedding`);
2. synthesise each group: partial themes, each with the finding ids it holds;
3. merge: partial themes (label, summary, keywords, sizes, two example claims; never
   their finding ids) are merged by the same synthesizer. When they do not fit one
   request they are grouped by the embeddings of their labels and merged group by
   group, in further rounds, until one request holds them all or a round merges
   nothing. A partial theme the merger leaves out stays a theme of its own;
4. the runtime maps merged themes back to finding ids and counts prevalence from them
   (`SynthesisOutput.to_synthesis`): no model ever counts.

The critic reviews per theme: themes with their findings are packed into requests
within the window, a theme too large for one is reviewed in parts, and findings in no
theme are reviewed as a group of their own. The verdict is the worst of the parts.

In the rows the models see here, quotes longer than `QUOTE_CHARS` are shortened with
a marked ellipsis (the findings themselves keep every quote whole).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from subagents.agent import Agent, AgentTask, ContextDocument
from subagents.findings import Finding, Synthesis
from subagents.outputs import CriticIssue, CriticOutput, SynthesisOutput, ThemeDraft
from workbench.core.errors import RunError


class AgentSource(Protocol):
    """What the synthesis needs of its engine (a `ModelEngine`): the agent of a sub-agent."""

    def agent(self, name: str) -> Agent: ...


QUOTE_CHARS = 300
ELLIPSIS = " […]"
VERDICT_ORDER = {"pass": 0, "revise": 1, "fail": 2}


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n].rstrip() + ELLIPSIS


def finding_row(f: Finding, *, quote_chars: int | None = QUOTE_CHARS) -> dict[str, Any]:
    quotes = [e.quote for e in f.evidence]
    if quote_chars is not None:
        quotes = [_short(q, quote_chars) for q in quotes]
    return {
        "id": f.id,
        "doc_id": f.doc_id,
        "claim": f.claim,
        "tags": f.tags,
        "confidence": f.confidence,
        "quotes": quotes,
    }


def jsonl(rows: Sequence[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)


def group_by_embedding(
    vectors: np.ndarray | None, sizes: Sequence[int], budget: int, *, seed: int = 0
) -> list[list[int]]:
    """Indices in groups whose sizes sum within `budget`, similar items together.

    Recursive bisection: 2-means on the (normalised) vectors, or a split at the median
    of the projection on the two centres when 2-means leaves one side with under a
    tenth of the tokens (so depth stays logarithmic). Without vectors, items are split
    in order. An item alone over the budget is a group of its own.
    """
    sizes_arr = np.asarray(sizes, dtype=np.int64)
    rng = np.random.default_rng(seed)
    out: list[list[int]] = []
    stack = [np.arange(len(sizes_arr))]
    while stack:
        idx = stack.pop()
        total = int(sizes_arr[idx].sum())
        if total <= budget or len(idx) == 1:
            out.append(sorted(int(i) for i in idx))
            continue
        left = _bisect(vectors[idx] if vectors is not None else None, sizes_arr[idx], rng)
        stack.append(idx[~left])
        stack.append(idx[left])
    return sorted(out, key=lambda g: g[0])


def _bisect(x: np.ndarray | None, sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(sizes)
    half = sizes.sum() / 2
    if x is None:
        first: np.ndarray = np.cumsum(sizes) <= max(half, sizes[0])
        return first
    x = x.astype(np.float32, copy=False)
    a = x[rng.integers(n)]
    c1 = x[int(np.argmax(((x - a) ** 2).sum(1)))]
    c2 = x[int(np.argmax(((x - c1) ** 2).sum(1)))]
    left = np.ones(n, dtype=bool)
    for _ in range(8):
        left = ((x - c1) ** 2).sum(1) <= ((x - c2) ** 2).sum(1)
        if left.all() or not left.any():
            break
        c1, c2 = x[left].mean(0), x[~left].mean(0)
    small = min(sizes[left].sum(), sizes[~left].sum())
    if small < 0.1 * sizes.sum() or left.all() or not left.any():
        proj = x @ (c1 - c2) if not np.allclose(c1, c2) else np.arange(n, dtype=np.float32)
        order = np.argsort(-proj, kind="stable")
        cum = np.cumsum(sizes[order])
        left = np.zeros(n, dtype=bool)
        left[order[cum <= max(half, sizes[order[0]])]] = True
        if left.all():
            left[order[-1]] = False
    return left


@dataclass
class _Partial:
    id: str
    label: str
    summary: str
    keywords: list[str]
    finding_ids: list[str]
    examples: list[str] = field(default_factory=list)


class BoundedSynthesis:
    """The hierarchical synthesis and per-theme critique of one `ModelEngine`."""

    def __init__(
        self, engine: AgentSource, embed: Callable[[list[str]], np.ndarray] | None
    ) -> None:
        self.engine = engine
        self.embed = embed
        self.calls = 0

    def _vectors(self, texts: list[str]) -> np.ndarray | None:
        if self.embed is None or len(texts) < 3:
            return None
        return np.asarray(self.embed(texts), dtype=np.float32)

    async def _run(self, agent: Agent, task: AgentTask, what: str) -> Any:
        self.calls += 1
        result = await agent.run(task)
        if not result.ok:
            raise RunError(
                f"{agent.spec.name} stopped without a result: {result.message}", task=what
            )
        return result.output

    @staticmethod
    def _fits(agent: Agent, task: AgentTask) -> bool:
        """The exact check the agent loop makes: the task's data within its room."""
        room = agent.context_room(task.model_copy(update={"context": []}))
        return room is None or sum(agent.document_tokens(c) for c in task.context) <= room

    def _verified(
        self, agent: Agent, groups: list[list[int]], build: Callable[[list[int]], AgentTask]
    ) -> list[list[int]]:
        """`groups` (sized by estimate) split further until each one's request fits."""
        out: list[list[int]] = []
        todo = list(groups)
        while todo:
            g = todo.pop(0)
            if len(g) == 1 or self._fits(agent, build(g)):
                out.append(g)
            else:
                todo[:0] = [g[: len(g) // 2], g[len(g) // 2 :]]
        return out

    @staticmethod
    def _room(agent: Agent, task: AgentTask) -> int:
        room = agent.context_room(task)
        if room is None:
            raise RunError("bounded synthesis needs a context budget")
        if room < 200:
            raise RunError(
                f"the context window leaves {room} tokens for data in a {agent.spec.name} "
                "request after its instructions; raise [models] context_window for this model"
            )
        return room

    # -- synthesis ------------------------------------------------------------------------
    async def synthesize(
        self,
        findings: Sequence[Finding],
        doc_ids: list[str],
        *,
        noun: str,
        question: str,
        steering: Sequence[str],
    ) -> Synthesis:
        agent = self.engine.agent("theme-synthesizer")
        ctx = agent.context
        assert ctx is not None
        by_id = {f.id: f for f in findings}
        rows = [finding_row(f) for f in findings]
        model = ctx.model_id(agent._request([]))
        sizes = [ctx.text_tokens(json.dumps(r, ensure_ascii=False), model) + 1 for r in rows]
        steer = ["Steering from the researcher:", *(f"- {s}" for s in steering)] if steering else []
        probe = AgentTask(
            instructions="\n".join([f"Research question: {question}", "x" * 400, *steer]),
            inputs={"total_documents": len(doc_ids)},
            shared_context=True,
        )
        room = self._room(agent, probe) - 16
        groups = group_by_embedding(self._vectors([f.claim for f in findings]), sizes, room)

        def build(g: list[int], n: int = 0, of: int = 0) -> AgentTask:
            lines = [
                f"Research question: {question}",
                f"{len(g)} findings are given as JSON lines in the document block: group {n} of "
                f"{of} groups of similar findings from {len(doc_ids)} {noun}. Group "
                "them into themes. Quotes ending in […] are shortened in this view.",
                *steer,
            ]
            return AgentTask(
                instructions="\n".join(lines),
                inputs={"total_documents": len(doc_ids)},
                context=[
                    ContextDocument(
                        id="findings", title="findings", text=jsonl([rows[i] for i in g])
                    )
                ],
            )

        groups = self._verified(agent, groups, lambda g: build(g, 99999, 99999))

        async def one(g: list[int], n: int) -> list[_Partial]:
            task = build(g, n, len(groups))
            out = await self._run(agent, task, f"synthesize group {n}")
            if not isinstance(out, SynthesisOutput):
                raise RunError("theme-synthesizer returned no themes", stage="synthesize")
            ids = {findings[i].id for i in g}
            parts, used = [], set()
            for t in out.themes:
                fids = [x for x in dict.fromkeys(t.finding_ids) if x in ids and x not in used]
                used.update(fids)
                if fids:
                    parts.append(
                        _Partial(
                            id="",
                            label=t.label,
                            summary=t.summary,
                            keywords=t.keywords,
                            finding_ids=fids,
                            examples=[_short(by_id[x].claim, 160) for x in fids[:2]],
                        )
                    )
            return parts

        results = await asyncio.gather(*(one(g, n) for n, g in enumerate(groups, start=1)))
        partials = [p for r in results for p in r]
        for i, p in enumerate(partials, start=1):
            p.id = f"p{i}"
        rounds, final = await self._merge(partials, question=question, steer=steer, noun=noun)
        final.sort(key=lambda p: -len({by_id[x].doc_id for x in p.finding_ids}))
        assigned = {x for p in final for x in p.finding_ids}
        drafts = [
            ThemeDraft(
                label=p.label, summary=p.summary, finding_ids=p.finding_ids, keywords=p.keywords
            )
            for p in final
        ]
        outliers = [f.id for f in findings if f.id not in assigned]
        synthesis = SynthesisOutput(themes=drafts, outlier_finding_ids=outliers).to_synthesis(
            findings, len(doc_ids)
        )
        method = (
            f"model: theme-synthesizer, hierarchical ({len(groups)} groups of findings, "
            f"{rounds} merge rounds, {self.calls} calls, each within the context window)"
        )
        return synthesis.model_copy(update={"method": method})

    async def _merge(
        self, partials: list[_Partial], *, question: str, steer: list[str], noun: str
    ) -> tuple[int, list[_Partial]]:
        agent = self.engine.agent("theme-synthesizer")
        ctx = agent.context
        assert ctx is not None
        model = ctx.model_id(agent._request([]))

        def row(p: _Partial) -> dict[str, Any]:
            return {
                "id": p.id,
                "claim": f"{p.label}: {_short(p.summary, 300)}",
                "tags": p.keywords[:8],
                "findings": len(p.finding_ids),
                "examples": p.examples,
            }

        def task(group: list[_Partial], final: bool) -> AgentTask:
            lines = [
                f"Research question: {question}",
                f"Each of the {len(group)} JSON lines in the document block is a partial theme "
                f"found in one group of findings from the {noun} (ids start with p). Merge the "
                "partial themes that are the same idea into one theme, listing their ids under "
                "finding_ids; a partial theme like no other is a theme of its own. Write each "
                "theme's label and summary for the merged theme."
                + (" This is the final merge: name the themes for the report." if final else ""),
                *steer,
            ]
            return AgentTask(
                instructions="\n".join(lines),
                context=[
                    ContextDocument(
                        id="findings", title="partial themes", text=jsonl([row(p) for p in group])
                    )
                ],
            )

        async def merge(group: list[_Partial], final: bool) -> list[_Partial]:
            out = await self._run(agent, task(group, final), "merge themes")
            if not isinstance(out, SynthesisOutput):
                raise RunError("theme-synthesizer returned no themes", stage="synthesize")
            by = {p.id: p for p in group}
            merged, used = [], set()
            for t in out.themes:
                ids = [x for x in dict.fromkeys(t.finding_ids) if x in by and x not in used]
                used.update(ids)
                if not ids:
                    continue
                fids = [f for x in ids for f in by[x].finding_ids]
                examples = [e for x in ids for e in by[x].examples][:2]
                merged.append(_Partial("", t.label, t.summary, t.keywords, fids, examples))
            merged += [p for p in group if p.id not in used]  # left out: stays its own theme
            return merged

        rounds = 0
        current = partials
        while len(current) > 1:
            rounds += 1
            full = task(current, True)
            if agent.document_tokens(full.context[0]) <= self._room(
                agent, full.model_copy(update={"context": []})
            ):
                current = await merge(current, True)
                break
            room = self._room(agent, task([], False)) - 16
            sizes = [
                ctx.text_tokens(json.dumps(row(p), ensure_ascii=False), model) + 1 for p in current
            ]
            vectors = self._vectors([f"{p.label}. {p.summary}" for p in current])
            groups = group_by_embedding(vectors, sizes, room, seed=rounds)
            batch = list(current)

            def build(g: list[int], batch: list[_Partial] = batch) -> AgentTask:
                return task([batch[i] for i in g], False)

            groups = self._verified(agent, groups, build)
            results = await asyncio.gather(
                *(
                    merge([current[i] for i in g], False)
                    if len(g) > 1
                    else asyncio.sleep(0, [current[g[0]]])
                    for g in groups
                )
            )
            nxt = [p for r in results for p in r]
            if len(nxt) >= len(current):  # nothing merged: what is left stands
                current = nxt
                break
            current = nxt
            for i, p in enumerate(current, start=1):
                p.id = f"p{i}"
        for i, p in enumerate(current, start=1):
            p.id = f"p{i}"
        return rounds, current

    # -- critic ------------------------------------------------------------------------------
    async def critique(
        self, findings: Sequence[Finding], synthesis: Synthesis, *, question: str
    ) -> CriticOutput:
        agent = self.engine.agent("critic")
        ctx = agent.context
        assert ctx is not None
        model = ctx.model_id(agent._request([]))
        by_id = {f.id: f for f in findings}
        themed = [
            (t.id, t.label, t.n_documents, [x for x in t.finding_ids if x in by_id])
            for t in synthesis.themes
        ]
        assigned = {x for _, _, _, ids in themed for x in ids}
        rest = [f.id for f in findings if f.id not in assigned]
        if rest:
            themed.append(("none", "(findings in no theme)", 0, rest))
        probe = AgentTask(
            instructions=f"Research question: {question}\n" + "x" * 600,
        )
        room = self._room(agent, probe) - 64
        # units: (theme header, its rows), each within the room; small ones share a call
        units: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []

        def size(obj: Any) -> int:
            return ctx.text_tokens(json.dumps(obj, ensure_ascii=False), model) + 1

        for tid, label, n_docs, ids in themed:
            rows = [finding_row(by_id[x], quote_chars=None) for x in ids]
            rows = [r if size(r) < room // 2 else finding_row(by_id[r["id"]]) for r in rows]
            header_size = size({"id": tid, "label": label, "n_documents": n_docs}) + 16
            sizes = [size(r) + size(r["id"]) for r in rows]
            parts = group_by_embedding(None, sizes, max(1, room - header_size))
            for n, part in enumerate(parts, start=1):
                shown = [rows[i] for i in part]
                header = {
                    "id": tid,
                    "label": label,
                    "finding_ids": [r["id"] for r in shown],
                    "n_documents": n_docs,
                }
                if len(parts) > 1:
                    header["part"] = f"{n} of {len(parts)} (n_documents counts the whole theme)"
                units.append((header, shown))

        def build(call: list[int]) -> AgentTask:
            headers = [units[i][0] for i in call]
            rows = [r for i in call for r in units[i][1]]
            return AgentTask(
                instructions=f"Research question: {question}\nReview the findings and themes "
                f"given as data (JSON lines: findings, then themes). This request holds "
                f"{len(headers)} of the run's {len(units)} theme parts; counts are for whole "
                "themes.",
                context=[
                    ContextDocument(id="findings", title="findings", text=jsonl(rows)),
                    ContextDocument(
                        id="themes", title="themes", text=json.dumps(headers, ensure_ascii=False)
                    ),
                ],
            )

        sizes = [size(h) + sum(size(r) for r in rows) + 8 for h, rows in units]
        calls = self._verified(agent, group_by_embedding(None, sizes, room), build)

        async def one(call: list[int]) -> CriticOutput:
            task = build(call)
            out = await self._run(agent, task, "critic")
            if not isinstance(out, CriticOutput):
                raise RunError("the critic returned no verdict", stage="critic")
            return out

        outs = await asyncio.gather(*(one(c) for c in calls))
        issues: list[CriticIssue] = [i for o in outs for i in o.issues]
        verdict = max((o.verdict for o in outs), key=lambda v: VERDICT_ORDER[v], default="pass")
        summary = " ".join(dict.fromkeys(o.summary for o in outs if o.summary))
        return CriticOutput(
            verdict=verdict,  # type: ignore[arg-type]
            issues=issues,
            summary=f"{summary} (reviewed in {len(calls)} requests, per theme)".strip(),
        )
