"""ScriptedSandbox: a fake sandbox for tests of code that *uses* a sandbox.

It runs nothing. Each ``run_code`` consumes the next scripted step in order: an
``Execution`` to return, optionally with files to "write" into its work dir. Calls are
recorded; an unscripted call raises; ``assert_complete()`` fails if steps are left.
Use the real ``LocalSandbox`` when the test is about running code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, overload

from sandboxes.errors import SandboxError, SandboxFileError
from sandboxes.models import Execution, Result


@dataclass
class ScriptedStep:
    execution: Execution = field(default_factory=Execution)
    files: dict[str, bytes] = field(default_factory=dict)


class ScriptedFiles:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    @overload
    def read(self, path: str, format: Literal["text"] = "text") -> str: ...
    @overload
    def read(self, path: str, format: Literal["bytes"]) -> bytes: ...
    def read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes:
        if path not in self.data:
            raise SandboxFileError(f"no file {path!r} in the sandbox work dir")
        raw = self.data[path]
        return raw if format == "bytes" else raw.decode("utf-8")

    def write(self, path: str, data: str | bytes) -> str:
        self.data[path] = data.encode("utf-8") if isinstance(data, str) else data
        return path


class ScriptedSandbox:
    """Sync fake implementing the ``Sandbox`` protocol."""

    inputs_dir = "/inputs"

    def __init__(self, steps: list[ScriptedStep | Execution] | None = None) -> None:
        self.steps = [s if isinstance(s, ScriptedStep) else ScriptedStep(s) for s in steps or []]
        self.calls: list[tuple[str, float]] = []
        self.inputs: dict[str, Path] = {}
        self._files = ScriptedFiles()
        self.closed = False

    @staticmethod
    def text(value: str) -> Execution:
        """An execution whose main result is ``value``."""
        return Execution(results=[Result(text=value, is_main_result=True)])

    @property
    def files(self) -> ScriptedFiles:
        return self._files

    def input_path(self, name: str) -> str:
        return f"{self.inputs_dir}/{name}"

    def set_inputs(self, inputs: Mapping[str, Path]) -> None:
        self.inputs = dict(inputs)

    def run_code(self, code: str, timeout: float = 60.0) -> Execution:
        if self.closed:
            raise SandboxError("ScriptedSandbox used after close()")
        self.calls.append((code, timeout))
        if not self.steps:
            raise AssertionError(f"unscripted run_code call #{len(self.calls)}: {code[:200]!r}")
        step = self.steps.pop(0)
        self._files.data.update(step.files)
        return step.execution

    def assert_complete(self) -> None:
        if self.steps:
            raise AssertionError(f"{len(self.steps)} scripted step(s) were never used")

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
