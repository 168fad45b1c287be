"""The Sandbox protocols every backend implements, sync and async.

Contract:
- ``run_code(code, timeout)`` never raises for failures of the code itself: exceptions,
  timeouts, a dead kernel or an output flood come back as ``Execution.error``. It raises
  ``SandboxError`` only when the sandbox itself is unusable (closed, cannot start).
- State persists between calls (one kernel), like a notebook, until ``close()`` or a
  restart forced by a timeout that ignored the interrupt, or by a dead kernel.
- ``files`` reads and writes in the work dir, which is the kernel's cwd. Inputs given
  at creation are readable (not writable) under ``inputs_dir`` inside the sandbox.
"""

from __future__ import annotations

from types import TracebackType
from typing import Literal, Protocol, Self, runtime_checkable

from sandboxes.models import Execution


@runtime_checkable
class SandboxFiles(Protocol):
    def read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes: ...
    def write(self, path: str, data: str | bytes) -> str: ...


@runtime_checkable
class AsyncSandboxFiles(Protocol):
    async def read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes: ...
    async def write(self, path: str, data: str | bytes) -> str: ...


@runtime_checkable
class Sandbox(Protocol):
    """Blocking sandbox; usable in a notebook cell (it runs its own event loop thread)."""

    inputs_dir: str

    @property
    def files(self) -> SandboxFiles: ...
    def run_code(self, code: str, timeout: float = 60.0) -> Execution: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class AsyncSandbox(Protocol):
    """Async sandbox; the core of each backend."""

    inputs_dir: str

    @property
    def files(self) -> AsyncSandboxFiles: ...
    async def run_code(self, code: str, timeout: float = 60.0) -> Execution: ...
    async def close(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
