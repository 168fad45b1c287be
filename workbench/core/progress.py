"""Progress of long work, drawn as progress bars (tqdm) in a terminal and in a notebook.

A run (`Project.analyze`) and `ask` report progress as events (`workbench.core.events`):
`stage_started`, then `progress` (chunks indexed) or `task_done` (fan-out tasks) with
`done` of `total`, then `stage_done`. `progress_listener()` chooses how to show them
when the caller passes no listener of its own:

- ``bars``: one tqdm bar per stage while it works, with its count where it has one
  (chunks indexed, tasks done) and its elapsed time always, on stderr in a terminal,
  or as widget bars in a notebook that draws widgets (`tqdm.auto`). Other events are
  printed above the bars as log lines;
- ``lines``: `LogPrinter`'s log lines, progress thinned to quarters (logs, CI, pipes).

``WORKBENCH_PROGRESS=bars|lines`` overrides the choice (default ``auto``: bars in a
terminal or a notebook, lines otherwise). Nothing is written to stdout, so a command's
``--json`` output stays exactly one JSON object. A notebook run started with
`Project.start` has its own panel, whose stage bars these same events move.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, TextIO

from workbench.core.detect import display_mode
from workbench.core.errors import UserError
from workbench.core.events import Event, Listener, LogPrinter

MODES = ("auto", "bars", "lines")
# events of these "stages" are notes about the run, not work with a duration
NOT_STAGES = ("", "run", "load", "plan", "replan", "steering", "review")
UNITS = {"index": "chunks"}


def progress_mode() -> str:
    mode = os.environ.get("WORKBENCH_PROGRESS", "").strip().lower() or "auto"
    if mode not in MODES:
        raise UserError(f"WORKBENCH_PROGRESS={mode!r} is not a progress mode; use one of {MODES}")
    return mode


def progress_listener(stream: TextIO | None = None) -> Listener:
    """The listener for a run or an `ask` whose caller gave none (see the module doc)."""
    out = stream or sys.stderr
    mode = progress_mode()
    if mode == "auto":
        if display_mode() == "widgets":
            return ProgressBars(out, notebook=True)
        isatty = getattr(out, "isatty", None)
        mode = "bars" if callable(isatty) and isatty() else "lines"
    return ProgressBars(out) if mode == "bars" else LogPrinter(out)


class ProgressBars:
    """Events as tqdm bars, one per working stage; other events as lines above them.

    Thread-safe: events may come from the run's loop and from worker threads. While a
    bar is open a small daemon thread redraws it twice a second, so the elapsed time of
    a stage without counts keeps moving; it ends when the last bar closes.
    """

    KNOWN = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}]"
    UNKNOWN = "{desc} [{elapsed}]"

    def __init__(
        self, stream: TextIO | None = None, *, notebook: bool = False, refresh_s: float = 0.5
    ) -> None:
        self.stream = stream or sys.stderr
        self.notebook = notebook
        self.refresh_s = refresh_s
        self._bars: dict[str, Any] = {}
        self._finished: set[str] = set()  # stages whose bar ran full and closed
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._ticker: threading.Thread | None = None
        self._lines = _LineFormatter()

    def __call__(self, ev: Event) -> None:
        with self._lock:
            working = ev.stage not in NOT_STAGES
            if ev.kind == "stage_started" and working:
                self._close(ev.stage, None)
                self._finished.discard(ev.stage)
                self._open(ev.stage, ev.total, ev.message, ev.data.get("unit"))
            elif ev.kind in ("progress", "task_done", "task_failed") and working:
                if ev.kind == "task_failed":
                    self._write(f"[{ev.stage}] task failed: {ev.message}")
                if ev.stage in self._finished:
                    return
                bar = self._bars.get(ev.stage)
                if bar is None:
                    bar = self._open(ev.stage, ev.total, "", ev.data.get("unit"))
                if ev.total and bar.total != ev.total:
                    bar.total = ev.total
                    bar.bar_format = self.KNOWN
                bar.n = min(ev.done, ev.total) if ev.total else ev.done
                bar.refresh()
                if ev.total and ev.done >= ev.total:  # finished: keep the full bar, stop it
                    self._close(ev.stage, None)
                    self._finished.add(ev.stage)
            elif ev.kind == "stage_done" and ev.stage in self._bars:
                self._close(ev.stage, ev.message)
            else:
                if ev.kind.startswith("run_"):
                    for stage in list(self._bars):
                        self._close(stage, None)
                line = self._lines(ev)
                if line is not None:
                    self._write(line)

    # -- bars ------------------------------------------------------------------------------
    def _open(self, stage: str, total: int, message: str, unit: str | None) -> Any:
        if self.notebook:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        bar = tqdm(
            total=total if total > 0 else None,
            desc=_desc(stage, message),
            unit=unit or UNITS.get(stage, "tasks"),
            file=self.stream,
            leave=True,
            dynamic_ncols=True,
            mininterval=0.2,
            bar_format=self.KNOWN if total > 0 else self.UNKNOWN,
        )
        self._bars[stage] = bar
        self._start_ticker()
        return bar

    def _close(self, stage: str, message: str | None) -> None:
        bar = self._bars.pop(stage, None)
        if bar is None:
            return
        if bar.total:
            bar.n = bar.total
        if message:
            bar.set_description_str(_desc(stage, message), refresh=False)
        bar.close()

    def _write(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line, file=self.stream)

    def _start_ticker(self) -> None:
        if self._ticker is not None and self._ticker.is_alive():
            return
        self._ticker = threading.Thread(target=self._tick, name="workbench-progress", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._wake.wait(self.refresh_s):
            with self._lock:
                if not self._bars:
                    self._ticker = None
                    return
                for bar in self._bars.values():
                    bar.refresh()


def _desc(stage: str, message: str) -> str:
    text = f"[{stage}] {message}".strip()
    return text if len(text) <= 60 else text[:59] + "…"


class _LineFormatter:
    """The log line `LogPrinter` would print for an event that is not a bar's."""

    def __call__(self, ev: Event) -> str | None:
        if ev.kind in ("progress", "task_done"):
            return None
        if ev.kind == "warning":
            return f"warning: {ev.message}"
        if not ev.message:
            return None
        return f"[{ev.stage}] {ev.message}" if ev.stage else ev.message


class IndexProgress:
    """The "index" stage of an `ask` or an evaluation: `start` emits its `stage_started`,
    each `(done, total)` call of `HybridIndex.update(progress=...)` a `progress` event,
    `finish` its `stage_done`."""

    def __init__(self, emit: Listener, what: str = "") -> None:
        self.emit = emit
        self.what = what
        self._last: tuple[int, int] | None = None

    def start(self) -> IndexProgress:
        message = f"indexing {self.what}" if self.what else "indexing"
        self.emit(Event("stage_started", "index", message, data={"unit": "chunks"}))
        return self

    def __call__(self, done: int, total: int) -> None:
        if (done, total) == self._last:
            return
        self._last = (done, total)
        self.emit(
            Event("progress", "index", "chunks indexed", done, total, data={"unit": "chunks"})
        )

    def finish(self, message: str) -> None:
        self.emit(Event("stage_done", "index", message))
