"""Wiring a running run to a view: the `RunLike` protocol and the log-line view
(`watch` and `wait`, which pick a view, are in `workbench.ui.views`).

A view never drives the run itself; it holds a `RunLike` (what `Project.start`
returns: `workbench.runs.handle.RunHandle`) and calls its `steer` / `pause` / `resume` /
`cancel` / `approve_plan` and its review queue. Events reach the view through
`subscribe`; events emitted before the view attached are replayed from `events`, so a
panel displayed a moment after `start` still shows the whole run.

Findings stream into the view from the run directory: every finished task is one
atomic file there (see `workbench.runs.store`), so a `TaskTail` reads each new one once.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from workbench.core.events import Event, Listener, LogPrinter
from workbench.ui.state import PanelState


@runtime_checkable
class RunLike(Protocol):
    """What a view needs from a run in progress (`workbench.runs.handle.RunHandle` is one)."""

    events: list[Event]
    review: Any  # a `workbench.runs.review.ReviewQueue` once the run has one, else None
    run_dir: Path | None

    def subscribe(self, fn: Listener) -> None: ...
    def steer(self, text: str) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def cancel(self, reason: str = ...) -> None: ...
    def approve_plan(self, plan: Any = None) -> None: ...

    @property
    def done(self) -> bool: ...

    @property
    def error(self) -> BaseException | None: ...


def attach(state: PanelState, handle: RunLike, *also: Listener) -> None:
    """Feed `state` (and `also` listeners) every event of `handle`, past and future, once."""
    lock = threading.Lock()
    seen: set[int] = set()

    def listener(ev: Event) -> None:
        with lock:
            if id(ev) in seen:
                return
            seen.add(id(ev))
        state.apply(ev)
        for fn in also:
            fn(ev)

    handle.subscribe(listener)
    for ev in list(handle.events):
        listener(ev)
    # messages of an earlier attempt (a resumed run) that no event of this one repeats
    for m in getattr(getattr(handle, "control", None), "messages", []):
        if m.id not in state.steering:
            state.add_steer(m.id, m.text, m.source)
        if m.applied_where:
            state.apply(Event("steer_applied", data={"id": m.id, "where": m.applied_where}))


class TaskTail:
    """Reads each new task result of a run directory once: its findings and what it spent.

    Model-engine tasks record `spent: {usage, cost_usd}`; the sums (`input_tokens`,
    `output_tokens`, `cost_usd`) are the run's spending so far, read from disk, so they
    are right whichever events the run emits.
    """

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0

    def usage(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
        }

    def _charge(self, data: dict[str, Any]) -> None:
        spent = data.get("spent")
        if not isinstance(spent, dict):
            return
        usage = spent.get("usage") or {}
        self.input_tokens += int(usage.get("input_tokens", 0)) + int(
            usage.get("cache_read_input_tokens", 0)
        )
        self.input_tokens += int(usage.get("cache_creation_input_tokens", 0))
        self.output_tokens += int(usage.get("output_tokens", 0))
        with contextlib.suppress(TypeError, ValueError):  # a malformed cost counts as none
            self.cost_usd += float(spent.get("cost_usd", 0) or 0)

    def poll(self, run_dir: str | Path | None) -> list[dict[str, Any]]:
        if not run_dir:
            return []
        tasks = Path(run_dir) / "tasks"
        out: list[dict[str, Any]] = []
        try:
            names = [p for p in tasks.glob("*.json") if p.name not in self.seen]
        except OSError:
            return out
        for p in sorted(names):
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # not there any more, or written by a lying disk: skip, retry later
            self.seen.add(p.name)
            if isinstance(data, dict):
                self._charge(data)
            found = data.get("findings") if isinstance(data, dict) else None
            if isinstance(found, list):
                out.extend(f for f in found if isinstance(f, dict) and "id" in f)
        return out


def sync_review(state: PanelState, handle: RunLike) -> None:
    """Copy the run's review queue (items and decisions) into the state when it changed."""
    queue = getattr(handle, "review", None)
    if queue is None:
        return
    items = queue.items()
    decisions = dict(queue.decisions)
    if len(items) == len(state.review) and sum(
        1 for r in state.review.values() if r.decision
    ) == len(decisions):
        return
    state.set_review(items)
    for fid, d in decisions.items():
        row = state.review.get(fid)
        if row is not None and row.decision is None:
            state.decide(fid, str(d.get("decision")), d.get("claim"))


class LogView:
    """Progress as log lines on a stream (stdout by default): papermill keeps them.

    Steering and review decisions are logged too; at the end one summary line says
    what the run produced. This is the view wherever widgets cannot be drawn.
    """

    def __init__(self, handle: RunLike, *, stream: TextIO | None = None, summary: bool = True):
        self.handle = handle
        self.stream = stream or sys.stdout
        self.state = PanelState()
        self.summary = summary
        self._printer = LogPrinter(self.stream)
        self._said_done = False
        self._line("[run] working in the background; progress follows as log lines")
        attach(self.state, handle, self._print)

    def _print(self, ev: Event) -> None:
        self._printer(ev)
        if ev.kind == "plan_proposed":
            self._line("[plan] waiting for approval: call run.approve_plan() to go on")
        if ev.kind in ("run_done", "run_failed") and self.summary and not self._said_done:
            self._said_done = True
            self.state.add_findings(TaskTail().poll(self.handle.run_dir or self.state.run_dir))
            self._line(self.state.summary_line())

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def __repr__(self) -> str:
        return self.state.summary_line()
