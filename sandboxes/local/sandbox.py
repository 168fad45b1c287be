"""LocalSandbox: an IPython kernel under bubblewrap on this machine.

What it protects against, and what not: see ``bwrap.py``. In short, code in the sandbox
sees a read-only system, its work dir and its inputs; no network, no host processes,
no host environment, no home or project files; per-process limits on memory, CPU time,
processes, open files and file size, and host-side watching of total memory and disk.
It is not a VM: a kernel exploit escapes it. Use E2B for untrusted code at scale.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, overload

from sandboxes._loop import run_sync
from sandboxes.errors import SandboxClosedError, SandboxError, SandboxFileError
from sandboxes.local.bwrap import (
    INPUTS_DIR,
    WORK_DIR,
    BwrapSpec,
    SandboxLimits,
    allocate_uid,
    prepare_owned_dir,
    require_bwrap,
    sandbox_env,
)
from sandboxes.local.fdtree import empty_dir, give_to
from sandboxes.local.files import LocalFiles
from sandboxes.local.kernel import KernelSession, plain_argv
from sandboxes.models import Execution

log = logging.getLogger(__name__)

Isolation = Literal["bwrap", "none"]

#: Modules a warm sandbox imports before its first job.
DEFAULT_PRELOAD: tuple[str, ...] = ("polars", "matplotlib", "matplotlib.pyplot")


# A fresh context, as E2B's reset (a restarted interpreter) gives: names cleared, figures
# closed, and matplotlib back to its default style and the inline backend, so that a job
# which switched to Agg or changed the style does not stop the next job's plt.show().
_RESET_CODE = """\
%reset -f
import os as _os, sys as _sys
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
    _sys.modules["matplotlib"].rcdefaults()
    get_ipython().run_line_magic("matplotlib", "inline")
_os.chdir(_os.environ["SANDBOX_WORK_DIR"])
del _os, _sys
"""


def _empty_dir(path: Path) -> None:
    # the sandbox may be swapping entries for links while we go: descriptors only
    empty_dir(path)


class SandboxIsolationWarning(UserWarning):
    """Code is running without isolation, because the user asked for it."""


class AsyncLocalFiles:
    """Async face of ``LocalFiles`` (the work dir is local, so the calls do not block long)."""

    def __init__(self, files: LocalFiles) -> None:
        self.sync = files

    @overload
    async def read(self, path: str, format: Literal["text"] = "text") -> str: ...
    @overload
    async def read(self, path: str, format: Literal["bytes"]) -> bytes: ...
    async def read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes:
        if format == "bytes":
            return self.sync.read(path, format="bytes")
        return self.sync.read(path, format="text")

    async def write(self, path: str, data: str | bytes) -> str:
        return self.sync.write(path, data)

    async def exists(self, path: str) -> bool:
        return self.sync.exists(path)

    async def list(self, path: str = ".") -> list[str]:
        return self.sync.list(path)


class AsyncLocalSandbox:
    """An IPython kernel in a bubblewrap sandbox (async API; see ``LocalSandbox`` for sync).

    - ``work_dir``: host dir that is the kernel's cwd (``/workspace`` inside), the only
      writable host path. A temp dir, removed at close, when not given.
    - ``inputs``: name -> host file or dir, copied into a staging dir mounted read-only
      at ``/inputs/<name>`` (``set_inputs`` replaces them between jobs).
    - ``isolation="none"`` runs the kernel without bubblewrap: only for machines that
      cannot have it, and every run warns.
    - ``preload``: modules imported at start, so the first job does not pay for them.

    Timeouts interrupt the code; if it does not stop within 2 s the kernel is killed and
    restarted. A dead kernel is restarted on the next call; the call that saw it die gets
    an ``Execution.error``.
    """

    def __init__(
        self,
        work_dir: Path | None = None,
        inputs: Mapping[str, Path] | None = None,
        *,
        limits: SandboxLimits | None = None,
        isolation: Isolation = "bwrap",
        env: Mapping[str, str] | None = None,
        preload: Sequence[str] = (),
        start_timeout: float = 30.0,
    ) -> None:
        if isolation not in ("bwrap", "none"):
            raise SandboxError(f"isolation must be 'bwrap' or 'none', not {isolation!r}")
        self.isolation: Isolation = isolation
        self.limits = limits or SandboxLimits()
        self._bwrap = require_bwrap() if isolation == "bwrap" else ""
        self._runtime = Path(tempfile.mkdtemp(prefix="wb-sbx-"))
        self._own_work_dir = work_dir is None
        self.work_dir = (work_dir or self._runtime / "work").resolve()
        self._inputs_host = self._runtime / "inputs"
        self._inputs_host.mkdir()
        self._uid = allocate_uid() if isolation == "bwrap" else 0
        prepare_owned_dir(self.work_dir, self._uid)
        if isolation == "bwrap":
            self.sandbox_work_dir, self.inputs_dir = WORK_DIR, INPUTS_DIR
        else:
            self.sandbox_work_dir, self.inputs_dir = str(self.work_dir), str(self._inputs_host)
        self._env = dict(env or {})
        self._preload = tuple(preload)
        self._start_timeout = start_timeout
        self._files = AsyncLocalFiles(LocalFiles(self.work_dir, self.sandbox_work_dir, self._uid))
        self._session: KernelSession | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self.restarts = 0
        if inputs:
            try:
                self._stage_inputs(inputs)
            except BaseException:
                shutil.rmtree(self._runtime, ignore_errors=True)
                raise

    # -- lifecycle -------------------------------------------------------------------

    @property
    def files(self) -> AsyncLocalFiles:
        return self._files

    async def start(self) -> Self:
        """Start the kernel (called by ``run_code`` and ``async with`` when needed)."""
        if self._closed:
            raise SandboxClosedError("this sandbox is closed; create a new one")
        if self._session is None:
            session = KernelSession(
                self._wrap(), self._runtime, self.work_dir, self.limits, self._kernel_env(),
                on_dir_ready=self._give_to_sandbox,
            )  # fmt: skip
            await session.start(self._start_timeout)
            self._session = session
            if self._preload:
                imports = "\n".join(f"import {m}" for m in self._preload)
                ex, _ = await session.execute(imports, timeout=self._start_timeout)
                if ex.error is not None:
                    raise SandboxError(f"preloading {self._preload} failed: {ex.error.value}")
        return self

    async def restart(self) -> None:
        """Kill the kernel (and all its processes) and start a fresh one; files are kept."""
        async with self._lock:
            await self._restart()

    async def _restart(self) -> None:
        if self._session is not None:
            await self._session.kill()
            self._session = None
        self.restarts += 1
        await self.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._session is not None:
            await self._session.kill()
            self._session = None
        shutil.rmtree(self._runtime, ignore_errors=True)

    async def __aenter__(self) -> Self:
        try:
            return await self.start()
        except BaseException:
            await self.close()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def kernel_pid(self) -> int | None:
        """Host pid of the sandbox's outermost process (bwrap, or the kernel if unisolated)."""
        return self._session.pid() if self._session else None

    # -- running code ----------------------------------------------------------------

    async def run_code(self, code: str, timeout: float = 60.0) -> Execution:
        if timeout <= 0:
            raise SandboxError(f"timeout must be positive seconds, got {timeout}")
        if self.isolation == "none":
            msg = "LocalSandbox is running code UNISOLATED (isolation='none'): it can read your files, use the network and see your environment"
            log.warning(msg)
            warnings.warn(msg, SandboxIsolationWarning, stacklevel=2)
        started = time.perf_counter()
        async with self._lock:
            if self._closed:
                raise SandboxClosedError("this sandbox is closed; create a new one")
            session = self._session
            if session is None or not await session.is_alive():
                await self._restart() if session is not None else await self.start()
                session = self._session
            assert session is not None
            execution, restart = await session.execute(code, timeout)
            if restart and not session.last_started and session.violation is None:
                # the kernel was already dead (killed between calls): the code never ran
                await self._restart()
                session = self._session
                assert session is not None
                execution, restart = await session.execute(code, timeout)
            if restart:
                await self._restart()
        execution.duration_s = time.perf_counter() - started
        return execution

    async def reset(self) -> None:
        """Fresh state for the next job: names cleared, figures closed, work dir and inputs
        emptied. Imported modules stay loaded (that is what keeps a pooled sandbox warm);
        a restart replaces the kernel if the reset fails.
        """
        async with self._lock:
            session = self._session
            if session is not None and await session.is_alive():
                ex, restart = await session.execute(_RESET_CODE, timeout=10.0)
                if restart or ex.error is not None:
                    await self._restart()
            _empty_dir(self.work_dir)
            _empty_dir(self._inputs_host)

    # -- inputs ----------------------------------------------------------------------

    async def set_inputs(self, inputs: Mapping[str, Path]) -> None:
        """Replace the files under ``inputs_dir`` (the mount is live: no restart needed)."""
        async with self._lock:
            _empty_dir(self._inputs_host)
            self._stage_inputs(inputs)

    def input_path(self, name: str) -> str:
        """Where input ``name`` is visible inside the sandbox."""
        return f"{self.inputs_dir}/{name}"

    def _stage_inputs(self, inputs: Mapping[str, Path]) -> None:
        for name, src in inputs.items():
            if not name or "/" in name or name in (".", ".."):
                raise SandboxFileError(
                    f"input name {name!r} must be a plain file name such as 'findings.json'"
                )
            src = Path(src)
            if not src.exists():
                raise SandboxFileError(f"input {name!r}: {src} does not exist")
            dest = self._inputs_host / name
            # a copy, not a bind or link: the sandbox uid may not be allowed to read the
            # original, and the original may change while the sandbox lives
            if src.is_dir():
                shutil.copytree(src, dest, symlinks=False)
            else:
                shutil.copyfile(src, dest)
            for root, dirs, files in os.walk(dest):
                os.chmod(root, 0o755)
                for d in dirs:
                    os.chmod(os.path.join(root, d), 0o755)
                for f in files:
                    os.chmod(os.path.join(root, f), 0o444)
            if dest.is_file():
                os.chmod(dest, 0o444)

    # -- launch ----------------------------------------------------------------------

    def _kernel_env(self) -> dict[str, str]:
        env = sandbox_env(self._env)
        if self.isolation == "none":
            env.update(
                HOME=str(self._runtime),
                MPLCONFIGDIR=str(self._runtime / "matplotlib"),
                IPYTHONDIR=str(self._runtime / "ipython"),
                JUPYTER_RUNTIME_DIR=str(self._runtime / "jupyter"),
                XDG_CACHE_HOME=str(self._runtime / "cache"),
                SANDBOX_WORK_DIR=self.sandbox_work_dir,
                SANDBOX_INPUTS_DIR=self.inputs_dir,
            )
        return env

    def _wrap(self) -> Callable[[list[str]], list[str]]:
        if self.isolation == "none":
            return plain_argv(self.limits, self.work_dir)
        spec = BwrapSpec(
            bwrap=self._bwrap,
            work_dir=self.work_dir,
            inputs_dir=self._inputs_host,
            runtime_dir=self._runtime,
            limits=self.limits,
            uid=self._uid,
            env=self._env,
        )

        def wrap(kernel_args: list[str]) -> list[str]:
            # bind only this kernel's socket dir (it holds the connection file)
            spec.runtime_dir = Path(kernel_args[kernel_args.index("-f") + 1]).parent
            return spec.argv(kernel_args)

        return wrap

    def _give_to_sandbox(self, path: Path) -> None:
        if self._uid and os.geteuid() == 0:
            give_to(path, self._uid)


class LocalSandbox:
    """Blocking face of ``AsyncLocalSandbox``; same arguments. Works inside Jupyter."""

    def __init__(
        self,
        work_dir: Path | None = None,
        inputs: Mapping[str, Path] | None = None,
        *,
        limits: SandboxLimits | None = None,
        isolation: Isolation = "bwrap",
        env: Mapping[str, str] | None = None,
        preload: Sequence[str] = (),
        start_timeout: float = 30.0,
    ) -> None:
        self.aio = run_sync(_make(work_dir, inputs, limits, isolation, env, preload, start_timeout))
        self.inputs_dir = self.aio.inputs_dir
        self.sandbox_work_dir = self.aio.sandbox_work_dir
        self.work_dir = self.aio.work_dir

    @property
    def files(self) -> LocalFiles:
        return self.aio.files.sync

    def start(self) -> Self:
        run_sync(self.aio.start())
        return self

    def run_code(self, code: str, timeout: float = 60.0) -> Execution:
        return run_sync(self.aio.run_code(code, timeout))

    def set_inputs(self, inputs: Mapping[str, Path]) -> None:
        run_sync(self.aio.set_inputs(inputs))

    def input_path(self, name: str) -> str:
        return self.aio.input_path(name)

    def restart(self) -> None:
        run_sync(self.aio.restart())

    def reset(self) -> None:
        run_sync(self.aio.reset())

    def kernel_pid(self) -> int | None:
        return self.aio.kernel_pid()

    def close(self) -> None:
        run_sync(self.aio.close())

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _make(
    work_dir: Path | None,
    inputs: Mapping[str, Path] | None,
    limits: SandboxLimits | None,
    isolation: Isolation,
    env: Mapping[str, str] | None,
    preload: Sequence[str],
    start_timeout: float,
) -> AsyncLocalSandbox:
    # built on the background loop so its asyncio.Lock binds there
    return AsyncLocalSandbox(
        work_dir,
        inputs,
        limits=limits,
        isolation=isolation,
        env=env,
        preload=preload,
        start_timeout=start_timeout,
    )
