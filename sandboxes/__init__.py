"""sandboxes: run model-written analysis code in isolation, with E2B's result shape.

Backends (one module each, behind the protocols in ``protocol.py``):

- ``LocalSandbox`` / ``AsyncLocalSandbox``: an IPython kernel under bubblewrap here.
- ``E2BSandbox`` / ``AsyncE2BSandbox``: an E2B cloud VM (needs ``E2B_API_KEY``).
- ``ScriptedSandbox`` (in ``sandboxes.testing``): a fake for tests of code that uses one.

``create_sandbox`` / ``create_async_sandbox`` pick E2B when ``E2B_API_KEY`` is set, else
local. ``SandboxPool`` keeps warm async sandboxes for many short jobs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandboxes.e2b import AsyncE2BSandbox, E2BSandbox, from_e2b_execution
from sandboxes.errors import (
    SandboxClosedError,
    SandboxError,
    SandboxFileError,
    SandboxUnavailableError,
)
from sandboxes.local.bwrap import INPUTS_DIR, WORK_DIR, SandboxLimits
from sandboxes.local.sandbox import (
    DEFAULT_PRELOAD,
    AsyncLocalSandbox,
    LocalSandbox,
    SandboxIsolationWarning,
)
from sandboxes.models import Execution, ExecutionError, Logs, Result
from sandboxes.pool import SandboxPool
from sandboxes.protocol import AsyncSandbox, AsyncSandboxFiles, Sandbox, SandboxFiles

__all__ = [
    "DEFAULT_PRELOAD",
    "INPUTS_DIR",
    "WORK_DIR",
    "AsyncE2BSandbox",
    "AsyncLocalSandbox",
    "AsyncSandbox",
    "AsyncSandboxFiles",
    "E2BSandbox",
    "Execution",
    "ExecutionError",
    "LocalSandbox",
    "Logs",
    "Result",
    "Sandbox",
    "SandboxClosedError",
    "SandboxError",
    "SandboxFileError",
    "SandboxFiles",
    "SandboxIsolationWarning",
    "SandboxLimits",
    "SandboxPool",
    "SandboxUnavailableError",
    "create_async_sandbox",
    "create_sandbox",
    "from_e2b_execution",
]


def e2b_available() -> bool:
    return bool(os.environ.get("E2B_API_KEY"))


def create_sandbox(
    work_dir: Path | None = None,
    inputs: Mapping[str, Path] | None = None,
    **options: Any,
) -> LocalSandbox | E2BSandbox:
    """A blocking sandbox: ``E2BSandbox`` when ``E2B_API_KEY`` is set, else ``LocalSandbox``.

    ``work_dir`` only applies locally (E2B's work dir is in the VM; read results back
    with ``files.read``). ``options`` go to the chosen backend's constructor.
    """
    if e2b_available():
        return E2BSandbox(inputs, **options)
    return LocalSandbox(work_dir, inputs, **options)


def create_async_sandbox(
    work_dir: Path | None = None,
    inputs: Mapping[str, Path] | None = None,
    **options: Any,
) -> AsyncLocalSandbox | AsyncE2BSandbox:
    """Async twin of ``create_sandbox``."""
    if e2b_available():
        return AsyncE2BSandbox(inputs, **options)
    return AsyncLocalSandbox(work_dir, inputs, **options)
