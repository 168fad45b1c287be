"""Progress events a run emits: the CLI prints them, a notebook renders them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from exports.text import clean_text


@dataclass(frozen=True)
class Event:
    # "run_started" | "stage_started" | "task_done" | "task_failed" | "progress" (work of
    # a stage that is not tasks: chunks indexed; data["unit"]) | "stage_done" | "note"
    # | "warning" | "plan_proposed" (data["plan"]) | "review_queued" | "run_done"; from a
    # RunHandle also the control's "steer" | "steer_applied" | "pause" | "resume" | "cancel"
    kind: str
    stage: str = ""
    message: str = ""
    done: int = 0
    total: int = 0
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]


class LogPrinter:
    """Prints events as log lines; task and progress events are thinned to quarters.

    Where bars can be drawn (a terminal, a notebook), `workbench.core.progress.ProgressBars`
    shows the same events as progress bars.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._last_pct: dict[str, int] = {}

    def __call__(self, ev: Event) -> None:
        if ev.kind in ("task_done", "progress"):
            pct = int(100 * ev.done / ev.total) if ev.total else 100
            step = pct // 25
            if self._last_pct.get(ev.stage) == step and ev.done != ev.total:
                return
            self._last_pct[ev.stage] = step
            line = f"[{ev.stage}] {ev.done}/{ev.total} {ev.message}".rstrip()
        elif ev.kind == "warning":
            line = f"warning: {ev.message}"
        else:
            line = f"[{ev.stage}] {ev.message}" if ev.stage else ev.message
        # event text carries file names, labels and quotes: no control sequences on a terminal
        print(clean_text(line), file=self.stream, flush=True)
