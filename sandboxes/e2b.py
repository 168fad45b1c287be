"""E2BSandbox: the Sandbox protocol on ``e2b_code_interpreter.AsyncSandbox`` (a cloud microVM).

Two clocks, not to be confused:
- the sandbox *lifetime* (``lifetime_s``, E2B's ``timeout`` in ``AsyncSandbox.create`` and
  ``set_timeout``): the VM is destroyed when it runs out. It is extended before a
  ``run_code`` whose timeout would outlive it.
- the *execution* timeout (``run_code(timeout=...)``, passed as E2B's ``timeout``) and the
  per-request timeout of API calls (``request_timeout``, connect and file transfers).

The VM has the analysis stack when created from the template in ``sandboxes/templates``
(``template="research-workbench-sandbox"`` once built; ``code-interpreter-v1`` works too).
Internet access is off unless ``allow_internet=True``. Inputs are uploaded read-only (as
root) under ``/inputs``; the kernel's cwd, where files are read and written, is
``/home/user/work``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, overload

from sandboxes._loop import run_sync
from sandboxes.errors import SandboxClosedError, SandboxFileError, SandboxUnavailableError
from sandboxes.models import Execution, ExecutionError, Logs, Result

TEMPLATE = "research-workbench-sandbox"
FALLBACK_TEMPLATE = "code-interpreter-v1"
E2B_WORK_DIR = "/home/user/work"
E2B_INPUTS_DIR = "/inputs"
_RESULT_FIELDS = ("text", "html", "markdown", "svg", "png", "jpeg", "pdf", "latex", "javascript")


def from_e2b_execution(execution: Any, output_cap: int = 1_000_000) -> Execution:
    """Convert an ``e2b_code_interpreter.Execution`` into ours (logs capped at ``output_cap``)."""
    results = []
    for r in execution.results:
        fields: dict[str, Any] = {f: getattr(r, f, None) for f in _RESULT_FIELDS}
        extra = dict(r.extra or {})
        chart = getattr(r, "chart", None)
        if chart is not None and hasattr(chart, "to_dict"):
            extra["chart"] = chart.to_dict()
        fields.update(json=r.json, data=r.data, is_main_result=bool(r.is_main_result))
        fields["extra"] = extra or None
        results.append(Result.model_validate(fields))
    stdout, stderr, truncated = _cap(
        list(execution.logs.stdout), list(execution.logs.stderr), output_cap
    )
    error = None
    if execution.error is not None:
        error = ExecutionError(
            name=execution.error.name,
            value=execution.error.value,
            traceback=execution.error.traceback or "",
        )
    return Execution(
        results=results,
        logs=Logs(stdout=stdout, stderr=stderr),
        error=error,
        execution_count=execution.execution_count,
        truncated=truncated,
    )


def _cap(stdout: list[str], stderr: list[str], cap: int) -> tuple[list[str], list[str], bool]:
    kept = 0
    truncated = False
    out: tuple[list[str], list[str]] = ([], [])
    for src, dst in ((stdout, out[0]), (stderr, out[1])):
        for chunk in src:
            room = cap - kept
            if len(chunk) > room:
                chunk, truncated = chunk[: max(room, 0)], True
            if chunk:
                dst.append(chunk)
                kept += len(chunk)
    if truncated:
        out[1].append(f"\n[sandbox: output truncated at {cap} characters]\n")
    return out[0], out[1], truncated


class AsyncE2BFiles:
    def __init__(self, owner: AsyncE2BSandbox) -> None:
        self._owner = owner

    def _path(self, path: str) -> str:
        if path.startswith("/"):
            if not path.startswith(E2B_WORK_DIR + "/"):
                raise SandboxFileError(f"{path!r} is outside the sandbox work dir {E2B_WORK_DIR}")
            return path
        return f"{E2B_WORK_DIR}/{path}"

    @overload
    async def read(self, path: str, format: Literal["text"] = "text") -> str: ...
    @overload
    async def read(self, path: str, format: Literal["bytes"]) -> bytes: ...
    async def read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes:
        from e2b import NotFoundException

        sbx = self._owner.raw
        try:
            if format == "bytes":
                return bytes(await sbx.files.read(self._path(path), format="bytes"))
            return str(await sbx.files.read(self._path(path), format="text"))
        except NotFoundException as exc:
            raise SandboxFileError(f"no file {path!r} in the sandbox work dir") from exc

    async def write(self, path: str, data: str | bytes) -> str:
        full = self._path(path)
        await self._owner.raw.files.write(full, data)
        return full


class AsyncE2BSandbox:
    """An E2B code-interpreter VM behind the async Sandbox protocol.

    Needs ``E2B_API_KEY`` (or ``api_key=``) and network access to E2B. One Python code
    context per sandbox; a timeout restarts that context (E2B does not interrupt it).
    """

    inputs_dir = E2B_INPUTS_DIR
    sandbox_work_dir = E2B_WORK_DIR

    def __init__(
        self,
        inputs: Mapping[str, Path] | None = None,
        *,
        template: str = TEMPLATE,
        lifetime_s: int = 600,
        request_timeout: float = 30.0,
        allow_internet: bool = False,
        api_key: str | None = None,
        output_cap: int = 1_000_000,
    ) -> None:
        self.api_key = api_key or os.environ.get("E2B_API_KEY")
        if not self.api_key:
            raise SandboxUnavailableError(
                "E2BSandbox needs an E2B API key: set E2B_API_KEY (https://e2b.dev/dashboard) "
                "or use LocalSandbox"
            )
        self.template = template
        self.lifetime_s = lifetime_s
        self.request_timeout = request_timeout
        self.allow_internet = allow_internet
        self.output_cap = output_cap
        self._inputs = dict(inputs or {})
        self._sbx: Any = None
        self._context: Any = None
        self._expires_at = 0.0
        self._closed = False
        self._files = AsyncE2BFiles(self)

    @property
    def raw(self) -> Any:
        """The underlying ``e2b_code_interpreter.AsyncSandbox``."""
        if self._sbx is None:
            raise SandboxClosedError("the E2B sandbox is not started (use `async with` or start())")
        return self._sbx

    @property
    def files(self) -> AsyncE2BFiles:
        return self._files

    def input_path(self, name: str) -> str:
        return f"{self.inputs_dir}/{name}"

    async def start(self) -> Self:
        if self._closed:
            raise SandboxClosedError("this sandbox is closed; create a new one")
        if self._sbx is not None:
            return self
        from e2b_code_interpreter import AsyncSandbox

        self._sbx = await AsyncSandbox.create(
            template=self.template,
            timeout=self.lifetime_s,
            allow_internet_access=self.allow_internet,
            envs={"SANDBOX_WORK_DIR": E2B_WORK_DIR, "SANDBOX_INPUTS_DIR": E2B_INPUTS_DIR},
            api_key=self.api_key,
            request_timeout=self.request_timeout,
        )
        self._expires_at = time.monotonic() + self.lifetime_s
        await self._sbx.files.make_dir(E2B_WORK_DIR)
        self._context = await self._sbx.create_code_context(cwd=E2B_WORK_DIR, language="python")
        await self.set_inputs(self._inputs)
        return self

    async def set_inputs(self, inputs: Mapping[str, Path]) -> None:
        """Upload inputs as root under /inputs, so the code can read but not change them."""
        from e2b import NotFoundException

        self._inputs = dict(inputs)
        with contextlib.suppress(NotFoundException):  # drop the previous job's inputs
            await self.raw.files.remove(E2B_INPUTS_DIR, user="root")
        for name, src in self._inputs.items():
            if not name or "/" in name:
                raise SandboxFileError(f"input name {name!r} must be a plain file name")
            await self.raw.files.write(
                f"{E2B_INPUTS_DIR}/{name}", Path(src).read_bytes(), user="root"
            )

    async def run_code(self, code: str, timeout: float = 60.0) -> Execution:
        from e2b import TimeoutException

        sbx = self.raw
        remaining = self._expires_at - time.monotonic()
        if remaining < timeout + 60:
            # the VM would die mid-execution: extend its lifetime first
            new_life = int(max(self.lifetime_s, timeout + 120))
            await sbx.set_timeout(new_life)
            self._expires_at = time.monotonic() + new_life
        started = time.perf_counter()
        try:
            raw = await sbx.run_code(
                code, context=self._context, timeout=timeout, request_timeout=self.request_timeout
            )
            execution = from_e2b_execution(raw, self.output_cap)
        except TimeoutException as exc:
            await sbx.restart_code_context(self._context)
            execution = Execution(
                error=ExecutionError(
                    name="TimeoutError",
                    value=f"execution exceeded its {timeout:g} s timeout; the code context was "
                    f"restarted and its state lost ({exc})",
                )
            )
        execution.duration_s = time.perf_counter() - started
        return execution

    async def reset(self) -> None:
        """Fresh interpreter state and an empty work dir (for pools)."""
        sbx = self.raw
        await sbx.restart_code_context(self._context)
        await sbx.files.remove(E2B_WORK_DIR)
        await sbx.files.make_dir(E2B_WORK_DIR)

    async def close(self) -> None:
        self._closed = True
        if self._sbx is not None:
            sbx, self._sbx = self._sbx, None
            await sbx.kill()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class E2BFiles:
    def __init__(self, files: AsyncE2BFiles) -> None:
        self._files = files

    @overload
    def read(self, path: str, format: Literal["text"] = "text") -> str: ...
    @overload
    def read(self, path: str, format: Literal["bytes"]) -> bytes: ...
    def read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes:
        if format == "bytes":
            return run_sync(self._files.read(path, format="bytes"))
        return run_sync(self._files.read(path, format="text"))

    def write(self, path: str, data: str | bytes) -> str:
        return run_sync(self._files.write(path, data))


class E2BSandbox:
    """Blocking face of ``AsyncE2BSandbox``; same arguments."""

    inputs_dir = E2B_INPUTS_DIR
    sandbox_work_dir = E2B_WORK_DIR

    def __init__(self, inputs: Mapping[str, Path] | None = None, **kwargs: Any) -> None:
        self.aio = AsyncE2BSandbox(inputs, **kwargs)
        self._files = E2BFiles(self.aio.files)

    @property
    def files(self) -> E2BFiles:
        return self._files

    def input_path(self, name: str) -> str:
        return self.aio.input_path(name)

    def start(self) -> Self:
        run_sync(self.aio.start())
        return self

    def run_code(self, code: str, timeout: float = 60.0) -> Execution:
        return run_sync(self.aio.run_code(code, timeout))

    def set_inputs(self, inputs: Mapping[str, Path]) -> None:
        run_sync(self.aio.set_inputs(inputs))

    def close(self) -> None:
        run_sync(self.aio.close())

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
