"""sandboxes: run model-written analysis code in isolation, with E2B's result shape.

Backends (one module each, behind the protocols in ``protocol.py``):

- ``LocalSandbox`` / ``AsyncLocalSandbox``: an IPython kernel under bubblewrap here.
- ``E2BSandbox`` / ``AsyncE2BSandbox``: an E2B cloud VM (needs ``E2B_API_KEY``).
- ``ScriptedSandbox`` (in ``sandboxes.testing``): a fake for tests of code that uses one.

``create_sandbox`` / ``create_async_sandbox`` open the backend named by ``backend``:
``"local"``, ``"e2b"``, or ``"auto"`` (E2B when ``E2B_API_KEY`` is set, else local); an
unknown name is an error. ``SandboxPool`` keeps warm async sandboxes for many short jobs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

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
    "BACKENDS",
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


Backend = Literal["auto", "local", "e2b"]
BACKENDS: tuple[Backend, ...] = ("auto", "local", "e2b")


def e2b_available() -> bool:
    return bool(os.environ.get("E2B_API_KEY"))


def resolve_backend(backend: str = "auto") -> Literal["local", "e2b"]:
    """The backend ``backend`` names; ``"auto"``: E2B when ``E2B_API_KEY`` is set."""
    if backend == "auto":
        return "e2b" if e2b_available() else "local"
    if backend == "local":
        return "local"
    if backend == "e2b":
        return "e2b"
    raise ValueError(f"unknown sandbox backend {backend!r}; use one of {', '.join(BACKENDS)}")


def create_sandbox(
    work_dir: Path | None = None,
    inputs: Mapping[str, Path] | None = None,
    *,
    backend: str = "auto",
    **options: Any,
) -> LocalSandbox | E2BSandbox:
    """A blocking sandbox of the named ``backend`` (see the module docstring).

    ``work_dir`` only applies locally (E2B's work dir is in the VM; read results back
    with ``files.read``). ``options`` go to the chosen backend's constructor.
    """
    if resolve_backend(backend) == "e2b":
        return E2BSandbox(inputs, **options)
    return LocalSandbox(work_dir, inputs, **options)


def create_async_sandbox(
    work_dir: Path | None = None,
    inputs: Mapping[str, Path] | None = None,
    *,
    backend: str = "auto",
    **options: Any,
) -> AsyncLocalSandbox | AsyncE2BSandbox:
    """Async twin of ``create_sandbox``."""
    if resolve_backend(backend) == "e2b":
        return AsyncE2BSandbox(inputs, **options)
    return AsyncLocalSandbox(work_dir, inputs, **options)
