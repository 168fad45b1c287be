"""SandboxPool: warm sandboxes handed out one job at a time, to hide start-up.

A job gets a sandbox with preloaded modules, its own inputs and an empty work dir; on
release the sandbox is reset (names cleared, files removed), and after ``max_uses`` jobs,
or if the reset fails, it is replaced by a fresh one in the background. Jobs of one pool
share kernels over time, so a job could leave a background thread or a patched module
behind for a later job: use one pool per run (same trust level), not across users.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from sandboxes.errors import SandboxClosedError, SandboxError
from sandboxes.models import Execution

log = logging.getLogger(__name__)


class PoolableSandbox(Protocol):
    """What a pool needs from an async sandbox (AsyncLocalSandbox and AsyncE2BSandbox)."""

    inputs_dir: str

    @property
    def files(self) -> Any: ...
    async def start(self) -> Any: ...
    async def run_code(self, code: str, timeout: float = 60.0) -> Execution: ...
    async def set_inputs(self, inputs: Mapping[str, Path]) -> None: ...
    async def reset(self) -> None: ...
    async def close(self) -> None: ...
    def input_path(self, name: str) -> str: ...


class SandboxPool:
    """A fixed number of warm async sandboxes.

    ``factory`` makes one unstarted sandbox; by default an ``AsyncLocalSandbox`` with
    polars and matplotlib preloaded (``sandbox_kwargs`` go to it)::

        async with SandboxPool(size=4) as pool:
            async with pool.acquire(inputs={"findings.json": path}) as sb:
                ex = await sb.run_code(code, timeout=60)
                png = await sb.files.read("chart.png", format="bytes")
    """

    def __init__(
        self,
        size: int = 4,
        factory: Callable[[], PoolableSandbox] | None = None,
        *,
        max_uses: int = 100,
        **sandbox_kwargs: Any,
    ) -> None:
        if size < 1:
            raise SandboxError(f"pool size must be at least 1, got {size}")
        if factory is None:
            from sandboxes.local.sandbox import DEFAULT_PRELOAD, AsyncLocalSandbox

            sandbox_kwargs.setdefault("preload", DEFAULT_PRELOAD)

            def factory() -> PoolableSandbox:
                return AsyncLocalSandbox(**sandbox_kwargs)

        elif sandbox_kwargs:
            raise SandboxError("pass sandbox options to your factory, not to SandboxPool")
        self.size = size
        self.max_uses = max_uses
        self._factory = factory
        self._idle: asyncio.Queue[PoolableSandbox] = asyncio.Queue()
        self._uses: dict[int, int] = {}
        self._all: set[PoolableSandbox] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False
        self.replaced = 0

    async def start(self) -> Self:
        """Start every sandbox (concurrently); returns when all are warm."""
        if self._closed:
            raise SandboxClosedError("this pool is closed")
        if not self._started:
            self._started = True
            await asyncio.gather(*(self._add() for _ in range(self.size)))
        return self

    async def _add(self) -> None:
        sb = self._factory()
        self._all.add(sb)
        try:
            await sb.start()
        except BaseException:
            self._all.discard(sb)
            await sb.close()
            raise
        if self._closed:
            self._all.discard(sb)
            await sb.close()
            return
        self._uses[id(sb)] = 0
        self._idle.put_nowait(sb)

    @contextlib.asynccontextmanager
    async def acquire(
        self, inputs: Mapping[str, Path] | None = None
    ) -> AsyncIterator[PoolableSandbox]:
        """Borrow a warm sandbox for one job, with ``inputs`` under its ``inputs_dir``."""
        await self.start()
        sb = await self._idle.get()
        try:
            if inputs:
                await sb.set_inputs(inputs)
            yield sb
        finally:
            self._release(sb)

    def _release(self, sb: PoolableSandbox) -> None:
        task = asyncio.get_running_loop().create_task(self._recycle(sb))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recycle(self, sb: PoolableSandbox) -> None:
        uses = self._uses.get(id(sb), 0) + 1
        self._uses[id(sb)] = uses
        if not self._closed and uses < self.max_uses:
            try:
                await sb.reset()
            except Exception as exc:  # a broken sandbox is replaced, not handed out
                log.warning("sandbox reset failed (%s); replacing it", exc)
            else:
                self._idle.put_nowait(sb)
                return
        self._all.discard(sb)
        self._uses.pop(id(sb), None)
        await sb.close()
        if not self._closed:
            self.replaced += 1
            await self._add()

    async def run(
        self,
        code: str,
        *,
        inputs: Mapping[str, Path] | None = None,
        timeout: float = 60.0,
        outputs: Sequence[str] = (),
    ) -> tuple[Execution, dict[str, bytes]]:
        """One job: run ``code`` and return its execution and the ``outputs`` files it wrote
        (files that do not exist are left out)."""
        async with self.acquire(inputs) as sb:
            execution = await sb.run_code(code, timeout=timeout)
            files: dict[str, bytes] = {}
            for name in outputs:
                with contextlib.suppress(SandboxError):
                    files[name] = await sb.files.read(name, format="bytes")
            return execution, files

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
        sandboxes, self._all = list(self._all), set()
        await asyncio.gather(*(sb.close() for sb in sandboxes), return_exceptions=True)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
