"""research-workbench: analyse a corpus with a fan-out of sub-agents, get checkable evidence.

    import workbench as wb
    project = wb.Project("my-project")
    run = project.analyze("interviews/", "What frustrates users about onboarding?")
    run.themes, run.deck_path, run.report_path

Importing this package is cheap: the heavy parts (torch, chromadb, kernels) load on
first use, through the lazy attributes below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench.core.version import __version__

_LAZY = {
    "Project": "workbench.project",
    "Corpus": "workbench.runs.corpus",
    "Run": "workbench.runs.run",
    "Settings": "workbench.core.settings",
    "WorkbenchError": "workbench.core.errors",
    "RunHandle": "workbench.runs.handle",
    "RunControl": "workbench.runs.control",
    "Plan": "workbench.orchestrator.plans",
    "open_bundle": "workbench.outputs.bundle",
    "make_run_bundle": "workbench.outputs.bundle",
    "UserError": "workbench.core.errors",
    "RunError": "workbench.core.errors",
}

__all__ = [
    "Corpus",
    "Plan",
    "Project",
    "Run",
    "RunControl",
    "RunError",
    "RunHandle",
    "Settings",
    "UserError",
    "WorkbenchError",
    "__version__",
    "make_run_bundle",
    "open_bundle",
]

if TYPE_CHECKING:
    from workbench.core.errors import RunError, UserError, WorkbenchError
    from workbench.core.settings import Settings
    from workbench.orchestrator.plans import Plan
    from workbench.outputs.bundle import make_run_bundle, open_bundle
    from workbench.project import Project
    from workbench.runs.control import RunControl
    from workbench.runs.corpus import Corpus
    from workbench.runs.handle import RunHandle
    from workbench.runs.run import Run


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
