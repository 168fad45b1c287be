"""`RunHandle`: a run started in the background (`Project.start`), steerable from any thread.

What a notebook widget needs: `steer`, `pause`, `resume`, `cancel`, `approve_plan`,
the review queue (`review`), progress per stage (`progress`) and the events so far
(`events`, plus `subscribe(fn)` for live ones), and `wait()` for the finished `Run`.
The run executes on its own thread and event loop, so the kernel stays free.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.events import Event, Listener
from workbench.runs.control import RunCancelledError, RunControl

if TYPE_CHECKING:
    from workbench.runs.review import ReviewQueue
    from workbench.runs.run import Run


class RunHandle:
    def __init__(self, control: RunControl, on_event: Listener | None = None) -> None:
        self.control = control
        self.events: list[Event] = []
        self.progress: dict[str, tuple[int, int]] = {}
        self.run_dir: Path | None = None
        self.plan: dict[str, Any] | None = None  # the proposed plan (JSON), to show and edit
        self._listeners: list[Listener] = [on_event] if on_event else []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._run: Run | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        control.listeners.append(self._on_control)
        control.interactive = True

    @property
    def review(self) -> ReviewQueue | None:
        """The run's review queue, once the run has reached review (else None)."""
        queue: ReviewQueue | None = self.control.review  # set by the pipeline
        return queue

    def _on_control(self, kind: str, data: dict[str, Any]) -> None:
        self._on_event(Event(kind, "steering", str(data.get("text", "")), data=dict(data)))

    # -- the run's side -------------------------------------------------------------------
    def _on_event(self, ev: Event) -> None:
        with self._lock:
            self.events.append(ev)
            if ev.kind in ("task_done", "task_failed") and ev.total:
                self.progress[ev.stage] = (ev.done, ev.total)
            if ev.kind == "plan_proposed":
                self.plan = ev.data.get("plan")
            listeners = list(self._listeners)
        for fn in listeners:
            fn(ev)

    def _start(self, target: Callable[[], Run]) -> None:
        def body() -> None:
            try:
                self._run = target()
            except BaseException as e:  # re-raised by wait()
                self._error = e
            finally:
                self._done.set()

        self._thread = threading.Thread(target=body, name="workbench-run", daemon=True)
        self._thread.start()

    # -- the person's side ------------------------------------------------------------------
    def subscribe(self, fn: Listener) -> None:
        with self._lock:
            self._listeners.append(fn)

    def steer(self, text: str) -> None:
        self.control.steer(text, source="widget")

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def cancel(self, reason: str = "cancelled by the user") -> None:
        self.control.cancel(reason)

    def approve_plan(self, plan: Any = None) -> None:
        self.control.approve_plan(plan)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def status(self) -> str:
        if not self._done.is_set():
            return "paused" if self.control.paused else "running"
        if self._error is None:
            return "complete"

        return "cancelled" if isinstance(self._error, RunCancelledError) else "failed"

    @property
    def error(self) -> BaseException | None:
        return self._error

    def wait(self, timeout: float | None = None) -> Run:
        """Block until the run ends; return its Run or raise what stopped it."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"the run is still going after {timeout}s")
        if self._error is not None:
            raise self._error
        assert self._run is not None
        return self._run

    def __repr__(self) -> str:
        stages = ", ".join(f"{k} {d}/{t}" for k, (d, t) in self.progress.items())
        return f"RunHandle({self.status}{': ' + stages if stages else ''})"
