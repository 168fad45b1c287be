"""The notebook experience: watch, steer, approve and review a run live.

    import workbench as wb
    from workbench import ui

    run = project.start(corpus, question)   # returns at once; the run works on its thread
    run                                      # the live panel (or log lines under papermill)
    ...
    result = ui.wait(run)                    # the finished Run (run.wait() works too)

Importing this package registers rich displays for `Corpus`, `Run`, `Finding`, `Theme`,
`Deck` and a run in progress with the running IPython (if any), by type name, so it
costs nothing until something is shown. `ipywidgets` is imported only when a panel is
drawn; without it, or where no frontend draws widgets (papermill, a console), a run
shows as log lines (see `workbench.core.detect`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.core.detect import display_mode, interactive
from workbench.ui.live import LogView, RunLike
from workbench.ui.reprs import Deck, register
from workbench.ui.state import PanelState
from workbench.ui.views import wait, watch

if TYPE_CHECKING:
    from workbench.ui.panel import RunPanel

__all__ = [
    "Deck",
    "LogView",
    "PanelState",
    "RunLike",
    "RunPanel",
    "display_mode",
    "interactive",
    "register",
    "wait",
    "watch",
]


def __getattr__(name: str) -> Any:
    if name == "RunPanel":  # imports ipywidgets
        from workbench.ui.panel import RunPanel

        return RunPanel
    raise AttributeError(f"module 'workbench.ui' has no attribute {name!r}")


register()
