"""What the panel shows, as plain data: fed by run events, read by the renderers.

`PanelState` is the single place where events become something to display: stage
progress with counts, tokens and cost against the budget, the plan and whether it was
approved, findings as table rows, the review queue, steering messages and where they
took effect, warnings. It is thread-safe (events arrive on the run's thread, widgets
read it on a refresh thread) and knows nothing about ipywidgets, so the text fallback,
the log lines and the widget panel all render the same state.

`version` increases on every change; a renderer redraws only what changed since the
version it last drew (`changed_since`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.core.events import Event

_NOT_STAGES = ("", "run", "load", "plan", "replan", "steering", "review")
SECTIONS = ("header", "plan", "stages", "budget", "findings", "review", "steering", "log")


@dataclass
class StageProgress:
    name: str
    done: int = 0
    total: int = 0
    status: str = "waiting"  # waiting | running | done | failed
    message: str = ""
    reused: int = 0
    active_since: int = 0  # the event count when the stage first moved (0: not yet)


@dataclass
class FindingRow:
    finding_id: str
    doc_id: str
    claim: str
    quote: str
    speaker: str | None = None
    confidence: float = 0.0
    sentiment: str = "neutral"
    theme: str | None = None


@dataclass
class ReviewRow:
    finding_id: str
    doc_id: str
    claim: str
    quote: str
    score: float
    reasons: list[str] = field(default_factory=list)
    decision: str | None = None  # accept | reject | edit, once decided
    edited_claim: str | None = None


@dataclass
class SteerRow:
    id: str
    text: str
    source: str = "code"
    applied_where: str | None = None


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    max_tokens: int | None = None
    max_usd: float | None = None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def finding_row(f: Any) -> FindingRow:
    """A row from a `subagents.findings.Finding` or its JSON form."""
    d: Mapping[str, Any] = f if isinstance(f, Mapping) else f.model_dump(mode="json")
    ev = (d.get("evidence") or [{}])[0]
    return FindingRow(
        finding_id=str(d.get("id", "")),
        doc_id=str(d.get("doc_id", "")),
        claim=str(d.get("claim", "")),
        quote=str(ev.get("quote", "")),
        speaker=ev.get("speaker"),
        confidence=float(d.get("confidence", 0.0)),
        sentiment=str(d.get("sentiment", "neutral")),
    )


class PanelState:
    """Thread-safe display state of one run; see the module docstring."""

    def __init__(self, *, question: str = "", max_log: int = 200) -> None:
        self._lock = threading.RLock()
        self.question = question
        self.run_id = ""
        self.run_dir = ""
        self.status = (
            "starting"  # starting | waiting-approval | running | paused | done | failed | cancelled
        )
        self.engine_note = ""
        self.stages: dict[str, StageProgress] = {}
        self.usage = Usage()
        self.plan: dict[str, Any] | None = None
        self.plan_status = "none"  # none | proposed | approved
        self.findings: dict[str, FindingRow] = {}
        self.review: dict[str, ReviewRow] = {}
        self.steering: dict[str, SteerRow] = {}
        self.log: list[str] = []
        self.max_log = max_log
        self.error: str | None = None
        self.started = time.monotonic()
        self.finished: float | None = None
        self.version = 0
        self._touched: dict[str, int] = dict.fromkeys(SECTIONS, 0)
        self.events_seen = 0

    # -- bookkeeping -----------------------------------------------------------------
    def _touch(self, *sections: str) -> None:
        self.version += 1
        for s in sections:
            self._touched[s] = self.version

    def changed_since(self, version: int) -> set[str]:
        with self._lock:
            return {s for s, v in self._touched.items() if v > version}

    def _line(self, text: str) -> None:
        self.log.append(text)
        if len(self.log) > self.max_log:
            del self.log[: len(self.log) - self.max_log]
        self._touch("log")

    # -- inputs ----------------------------------------------------------------------
    def apply(self, ev: Event) -> None:
        """Fold one run event into the state; unknown kinds are logged, never an error."""
        with self._lock:
            self.events_seen += 1
            data = ev.data or {}
            moves = ev.kind in (
                "stage_started",
                "task_done",
                "task_failed",
                "progress",
                "stage_done",
            )
            stage = self._stage(ev.stage) if moves and ev.stage not in _NOT_STAGES else None
            if ev.kind == "stage_started" and stage is not None:
                stage.status, stage.message = "running", ev.message
                if ev.total:
                    stage.total = ev.total
                self._touch("stages")
                self._line(f"[{ev.stage}] {ev.message}")
            elif ev.kind in ("task_done", "task_failed", "progress") and stage is not None:
                if ev.kind == "task_failed":
                    self._line(f"[{ev.stage}] task failed: {ev.message}")
                stage.status = "running" if ev.done < ev.total else "done"
                stage.done, stage.total = ev.done, ev.total
                stage.reused = int(data.get("reused", stage.reused))
                stage.message = ev.message
                self._touch("stages")
            elif ev.kind == "stage_done" and stage is not None:
                stage.status, stage.message = "done", ev.message
                if stage.total and stage.done < stage.total:
                    stage.done = stage.total
                self._touch("stages")
                self._line(f"[{ev.stage}] {ev.message}")
            elif ev.kind == "warning":
                self._line(f"warning: {ev.message}")
            elif ev.kind in ("run_done", "run_failed", "run_cancelled", "run_stopped"):
                self.finish(
                    {"run_done": "done", "run_failed": "failed"}.get(ev.kind, "cancelled"),
                    None if ev.kind == "run_done" else ev.message,
                )
                self._line(ev.message)
            elif ev.kind == "note" and ev.stage == "plan" and ev.message == "plan approved":
                self.plan_approved()
            elif ev.kind == "steer" and "id" in data:
                self.add_steer(
                    str(data["id"]),
                    str(data.get("text", ev.message)),
                    str(data.get("source", "code")),
                )
            elif ev.kind in ("pause", "resume", "cancel"):
                self.set_status({"pause": "paused", "resume": "running"}.get(ev.kind, "cancelling"))
                self._line(f"{ev.kind}" + (f": {data['reason']}" if data.get("reason") else ""))
            elif ev.kind == "run_started":
                self.set_status("running")
                self._line(ev.message)
            elif ev.message:
                self._line(f"[{ev.stage}] {ev.message}" if ev.stage else ev.message)
            self._absorb(ev.kind, data)

    def _absorb(self, kind: str, data: Mapping[str, Any]) -> None:
        """Payloads any event may carry: plan, findings, review items, usage, budget."""
        if "run_id" in data:
            self.run_id = str(data["run_id"])
            self._touch("header")
        if "run_dir" in data:
            self.run_dir = str(data["run_dir"])
            self.run_id = self.run_id or self.run_dir.rstrip("/").rsplit("/", 1)[-1]
            self._touch("header")
        plan: Any = data.get("plan")
        if plan is not None and hasattr(plan, "model_dump"):
            plan = plan.model_dump(mode="json")
        if isinstance(plan, Mapping):
            self.set_plan(dict(plan), approved=kind in ("plan_approved", "plan_final"))
        if kind == "plan_approved" or (kind == "note" and data.get("approved") is True):
            self.plan_status = "approved"
            if self.status == "waiting-approval":
                self.status = "running"
            self._touch("plan", "header")
        if data.get("findings") and isinstance(data["findings"], list):
            self.add_findings(data["findings"])
        items = data.get("review_items") or data.get("items")
        if kind.startswith("review") and isinstance(items, list):
            self.set_review(items)
        usage = data.get("usage") or data.get("ledger")
        if isinstance(usage, Mapping):
            self.set_usage(usage)
        budget = data.get("budget") or data.get("budgets")
        if isinstance(budget, Mapping):
            self.set_budget(budget)
        if kind in ("steer_applied", "steering_applied") and "id" in data:
            row = self.steering.get(str(data["id"]))
            if row is not None:
                row.applied_where = str(data.get("where", "applied"))
                self._touch("steering")

    def _stage(self, name: str, *, active: bool = True) -> StageProgress:
        st = self.stages.get(name)
        if st is None:
            st = self.stages[name] = StageProgress(name)
        if active and not st.active_since:
            st.active_since = self.events_seen
        return st

    def ordered_stages(self) -> list[StageProgress]:
        """Stages in the order they started; those still waiting after, in plan order."""
        with self._lock:
            listed = list(self.stages.values())
            return sorted(
                listed, key=lambda s: (s.active_since == 0, s.active_since, listed.index(s))
            )

    def set_plan(self, plan: dict[str, Any], *, approved: bool = False) -> None:
        with self._lock:
            self.plan = plan
            if approved:
                self.plan_status = "approved"
            elif self.plan_status != "approved":
                self.plan_status = "proposed"
                self.status = "waiting-approval"
            for s in plan.get("stages", []):
                name = s.get("id") or s.get("name")
                if name:
                    st = self._stage(str(name), active=False)
                    if not st.total and isinstance(s.get("tasks"), int):
                        st.total = s["tasks"]
            self._touch("plan", "stages", "header")

    def plan_approved(self) -> None:
        with self._lock:
            if self.plan_status == "approved":
                return
            self.plan_status = "approved"
            if self.status == "waiting-approval":
                self.status = "running"
            self._touch("plan", "header")
            self._line("plan approved")

    def add_findings(self, findings: Iterable[Any]) -> int:
        with self._lock:
            n = 0
            for f in findings:
                row = f if isinstance(f, FindingRow) else finding_row(f)
                if row.finding_id not in self.findings:
                    n += 1
                self.findings[row.finding_id] = row
            if n:
                self._touch("findings")
            return n

    def set_review(self, items: Iterable[Any]) -> None:
        with self._lock:
            for it in items:
                d = it if isinstance(it, Mapping) else vars(it)
                fid = str(d["finding_id"])
                old = self.review.get(fid)
                self.review[fid] = ReviewRow(
                    finding_id=fid,
                    doc_id=str(d.get("doc_id", "")),
                    claim=str(d.get("claim", "")),
                    quote=str(d.get("quote", "")),
                    score=float(d.get("score", 0.0)),
                    reasons=list(d.get("reasons", [])),
                    decision=old.decision if old else d.get("decision"),
                    edited_claim=old.edited_claim if old else None,
                )
            self._touch("review")

    def decide(self, finding_id: str, decision: str, claim: str | None = None) -> None:
        with self._lock:
            row = self.review.get(finding_id)
            if row is not None:
                row.decision, row.edited_claim = decision, claim
            self._touch("review")
            self._line(f"review: {decision} {finding_id}" + (f": {claim}" if claim else ""))

    def add_steer(self, id: str, text: str, source: str = "code") -> None:
        with self._lock:
            if id in self.steering:
                return
            self.steering[id] = SteerRow(id, text, source)
            self._touch("steering")
            self._line(f"steer ({source}): {text}")

    def set_usage(self, usage: Mapping[str, Any]) -> None:
        with self._lock:
            tokens = usage.get("tokens")
            if isinstance(tokens, Mapping):
                self.usage.input_tokens = int(tokens.get("input", 0)) + int(
                    tokens.get("cache_read", 0) or 0
                )
                self.usage.output_tokens = int(tokens.get("output", 0))
            else:
                self.usage.input_tokens = int(usage.get("input_tokens", self.usage.input_tokens))
                self.usage.output_tokens = int(usage.get("output_tokens", self.usage.output_tokens))
            if "cost_usd" in usage:
                self.usage.cost_usd = float(usage["cost_usd"])
            self._touch("budget")

    def set_budget(self, budget: Mapping[str, Any]) -> None:
        with self._lock:
            if budget.get("max_usd") is not None:
                self.usage.max_usd = float(budget["max_usd"])
            if budget.get("max_tokens") is not None:
                self.usage.max_tokens = int(budget["max_tokens"])
            self._touch("budget")

    def set_status(self, status: str) -> None:
        with self._lock:
            self.status = status
            self._touch("header")

    def finish(self, status: str, error: str | None = None) -> None:
        with self._lock:
            self.status = status
            self.error = error
            self.finished = time.monotonic()
            for st in self.stages.values():
                if st.status == "running" and status != "done":
                    st.status = "failed" if status == "failed" else "stopped"
            self._touch("header", "stages")

    # -- reads -------------------------------------------------------------------------
    def pending_review(self) -> list[ReviewRow]:
        with self._lock:
            return [r for r in self.review.values() if r.decision is None]

    def snapshot_findings(self) -> list[FindingRow]:
        with self._lock:
            return list(self.findings.values())

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def summary_line(self) -> str:
        with self._lock:
            stages = ", ".join(
                f"{s.name} {s.done}/{s.total}" if s.total else f"{s.name} {s.status}"
                for s in self.stages.values()
            )
            cost = f"${self.usage.cost_usd:.4f}" + (
                f" of ${self.usage.max_usd:g}" if self.usage.max_usd else ""
            )
            return (
                f"run {self.run_id or '?'} {self.status} after {self.elapsed:.1f}s; {stages}; "
                f"{len(self.findings)} findings; {self.usage.tokens} tokens, {cost}; "
                f"{len(self.pending_review())} to review"
            )
