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

__version__ = "0.1.0"

_LAZY = {
    "Project": "workbench.project",
    "Corpus": "workbench.corpus",
    "Run": "workbench.run",
    "Settings": "workbench.settings",
    "WorkbenchError": "workbench.errors",
    "RunHandle": "workbench.handle",
    "RunControl": "workbench.control",
    "Plan": "workbench.plans",
    "open_bundle": "workbench.bundle",
    "make_run_bundle": "workbench.bundle",
    "UserError": "workbench.errors",
    "RunError": "workbench.errors",
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
    from workbench.bundle import make_run_bundle, open_bundle
    from workbench.control import RunControl
    from workbench.corpus import Corpus
    from workbench.errors import RunError, UserError, WorkbenchError
    from workbench.handle import RunHandle
    from workbench.plans import Plan
    from workbench.project import Project
    from workbench.run import Run
    from workbench.settings import Settings


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
