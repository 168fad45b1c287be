"""Wiring a running run to a view: the `RunLike` protocol, `watch`, and the log-line view.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from workbench.core.detect import Mode, display_mode
from workbench.core.errors import UserError
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


_VIEWS: dict[int, Any] = {}
_VIEWS_LOCK = threading.Lock()


def watch(handle: RunLike, *, mode: Mode | None = None, display: bool = True) -> Any:
    """Show a run live and return its view: a `RunPanel` (widgets) or a `LogView`.

    Watching the same handle again returns (and re-displays) the same view.
    """
    chosen = mode or display_mode()
    with _VIEWS_LOCK:
        view = _VIEWS.get(id(handle))
        if view is None:
            view = _make_view(handle, chosen)
            _VIEWS[id(handle)] = view
    if display and hasattr(view, "display"):
        view.display()
    return view


def _make_view(handle: RunLike, mode: Mode) -> Any:
    if mode == "widgets":
        from workbench.ui.panel import RunPanel

        return RunPanel(handle)
    return LogView(handle)


def on_done(handle: RunLike, fn: Callable[[], None]) -> None:
    """Call `fn` once when the run ends (from the run's thread, or now if it has ended)."""
    fired = threading.Event()

    def listener(ev: Event) -> None:
        if ev.kind in ("run_done", "run_failed") and not fired.is_set():
            fired.set()
            fn()

    handle.subscribe(listener)
    if handle.done and not fired.is_set():
        fired.set()
        fn()


def wait(handle: RunLike, *, poll_s: float = 0.2) -> Any:
    """`handle.wait()`, except that it refuses to wait for a click that cannot come.

    While a cell runs, the kernel handles no widget clicks; waiting on a run that needs
    its plan approved (or its review queue decided) from the panel would hang the
    notebook. Where a person is expected to click (widgets), this raises a `UserError`
    that says what to do instead; elsewhere it is `handle.wait()`.
    """

    if display_mode() != "widgets":
        return _wait_plain(handle)
    state = PanelState()
    view = _VIEWS.get(id(handle))
    if view is not None:
        state = view.state
    else:
        attach(state, handle)
    while not handle.done:
        if state.plan_status == "proposed":
            raise UserError(
                "the run is waiting for its plan to be approved: click 'Approve plan' in the "
                "panel (or call run.approve_plan()), then run this cell again"
            )
        queue = getattr(handle, "review", None)
        if (
            queue is not None
            and getattr(queue.settings, "policy", "") == "wait"
            and queue.pending()
        ):
            raise UserError(
                f"the run is waiting for {len(queue.pending())} review decisions: decide them "
                "in the panel's Review tab, then run this cell again"
            )
        try:
            return _wait_plain(handle, timeout=poll_s)
        except TimeoutError:
            continue
    return _wait_plain(handle)


def _wait_plain(handle: RunLike, timeout: float | None = None) -> Any:
    fn = getattr(handle, "wait", None)
    if fn is None:
        raise TypeError(f"{type(handle).__name__} has no wait()")
    return fn(timeout)
