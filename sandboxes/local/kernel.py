"""One Jupyter kernel in a bubblewrap sandbox, and the execute loop that talks to it.

The kernel and this process talk over ZeroMQ IPC sockets in a runtime dir bound into
the sandbox at the same path (TCP would need the host network). The launch command is
replaced in ``format_kernel_cmd``: jupyter_client ignores the old ``kernel_cmd``
attribute, and a kernel started through it would silently run unsandboxed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

import psutil
import zmq
import zmq.asyncio
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

from sandboxes.errors import SandboxError
from sandboxes.local import fdtree
from sandboxes.local.bwrap import LAUNCHER, SandboxLimits
from sandboxes.models import Execution, ExecutionError, Logs, Result

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_POLL_S = 0.25  # how often a waiting execution checks deadline, liveness and quotas
_FLOOD_FACTOR = 10  # interrupt once output reaches this many times the cap
_RESULT_BYTES = 32 * 1024 * 1024  # rich results (images) kept per execution
_MAX_MSG_BYTES = 64 * 1024 * 1024  # larger messages from the kernel drop its connection


class _WrappedKernelManager(AsyncKernelManager):
    """A kernel manager whose launch command is built by ``wrap`` (bwrap or plain)."""

    wrap: Callable[[list[str]], list[str]] | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        assert self.wrap is not None, "set .wrap before starting the kernel"
        kernel_args = [
            "-f",
            os.path.realpath(self.connection_file),
            "--HistoryManager.enabled=False",
            "--IPKernelApp.quiet=True",
            *(extra_arguments or []),
        ]
        return self.wrap(kernel_args)


def plain_argv(limits: SandboxLimits, cwd: Path) -> Callable[[list[str]], list[str]]:
    """Launch without isolation (explicit opt-in only): same limits, no namespaces."""
    import json

    cfg = {"rlimits": limits.rlimits(), "uid": 0, "cwd": str(cwd)}
    rl = dict(cfg["rlimits"])  # type: ignore[call-overload]
    rl.pop("RLIMIT_NPROC")  # per real uid: would count every process of the host user
    cfg["rlimits"] = rl

    def wrap(kernel_args: list[str]) -> list[str]:
        return [sys.executable, "-s", "-c", LAUNCHER, json.dumps(cfg), *kernel_args]

    return wrap


@dataclass
class Violation:
    name: str
    value: str


class KernelSession:
    """A started kernel: its manager, client and watchdog. Restarted by replacing it."""

    def __init__(
        self,
        wrap: Callable[[list[str]], list[str]],
        runtime_dir: Path,
        work_dir: Path,
        limits: SandboxLimits,
        env: dict[str, str],
        on_dir_ready: Callable[[Path], None] | None = None,
    ) -> None:
        self.wrap = wrap
        self.runtime_dir = runtime_dir
        self.work_dir = work_dir
        self.limits = limits
        self.env = env
        self.on_dir_ready = on_dir_ready
        self.km: _WrappedKernelManager | None = None
        self.kc: AsyncKernelClient | None = None
        self.violation: Violation | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._kdir: Path | None = None
        self._ctx: zmq.asyncio.Context | None = None
        self.last_started = False

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, timeout: float = 30.0) -> None:
        kdir = Path(tempfile.mkdtemp(prefix="k", dir=self.runtime_dir))
        self._kdir = kdir
        if self.on_dir_ready:
            self.on_dir_ready(kdir)
        km = _WrappedKernelManager(
            transport="ipc",
            ip=str(kdir / "s"),
            connection_file=str(kdir / "kernel.json"),
        )
        km.wrap = self.wrap
        km.write_connection_file()
        if self.on_dir_ready:
            self.on_dir_ready(kdir / "kernel.json")
        # ipykernel captures the kernel's fds 1/2 into IOPub once it runs; what is written
        # before that (bwrap's own errors, import failures) goes to a log in the socket dir,
        # which counts against the disk quota, and never to the host's terminal
        launch_log = kdir / "launch.log"
        log_fd = os.open(launch_log, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(log_fd, "wb") as log_fh:
            await km.start_kernel(
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_fh,
                cwd=str(self.work_dir),
            )
        # the code in the sandbox can write to the kernel's sockets directly, bypassing the
        # output cap: bound what one message may make this process allocate
        ctx = zmq.asyncio.Context()
        ctx.setsockopt(zmq.MAXMSGSIZE, _MAX_MSG_BYTES)
        self._ctx = ctx
        kc = km.client(context=ctx)
        kc.start_channels()
        self.km, self.kc, self.violation = km, kc, None
        try:
            await kc.wait_for_ready(timeout=timeout)
        except RuntimeError as exc:
            detail = _tail(launch_log)
            await self.kill()
            raise SandboxError(
                f"the sandbox kernel did not start ({exc}). Its launch output:\n{detail}\n"
                "If bwrap reports a permission or namespace error, this system forbids "
                "unprivileged user namespaces (e.g. `sysctl kernel.unprivileged_userns_clone=1`, "
                "or an AppArmor profile for bwrap on Ubuntu 24.04+)."
            ) from exc
        self._watchdog = asyncio.create_task(self._watch())

    async def kill(self) -> None:
        """Kill the kernel and everything in its sandbox, and release sockets."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watchdog
            self._watchdog = None
        km, kc = self.km, self.kc
        self.km = self.kc = None
        if kc is not None:
            kc.stop_channels()
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
            self._ctx = None
        if km is not None:
            proc = getattr(km.provisioner, "process", None)
            if proc is not None:
                _kill_sandbox(proc.pid)
                try:
                    await asyncio.to_thread(proc.wait, 5)  # reap: no zombies
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(proc.wait, 5)
            with contextlib.suppress(Exception):
                await km.shutdown_kernel(now=True)
        if self._kdir is not None:
            shutil.rmtree(self._kdir, ignore_errors=True)
            self._kdir = None

    async def is_alive(self) -> bool:
        return self.km is not None and bool(await self.km.is_alive())

    def pid(self) -> int | None:
        return _pid(self.km) if self.km is not None else None

    # -- watchdog --------------------------------------------------------------------

    async def _watch(self) -> None:
        """Aggregate limits a per-process rlimit cannot express: total RSS, work-dir size."""
        mem_cap = self.limits.memory_mb * 1024 * 1024
        disk_cap = self.limits.disk_mb * 1024 * 1024
        while True:
            await asyncio.sleep(0.5)
            pid = self.pid()
            if pid is None:
                return
            rss = await asyncio.to_thread(_tree_rss, pid)
            if rss > mem_cap:
                self.violation = Violation(
                    "MemoryError",
                    f"the sandbox used {rss // 2**20} MiB, over its {self.limits.memory_mb} MiB "
                    "limit; the kernel was restarted and its state lost",
                )
            else:
                # the socket dir is writable from inside too: it counts against the quota
                dirs = [self.work_dir] + ([self._kdir] if self._kdir else [])
                used = await asyncio.to_thread(_usage, dirs, disk_cap, self.limits.max_files)
                if used.bytes > disk_cap or used.entries > self.limits.max_files:
                    # record why before the kill: the waiting execution must not see a plain
                    # kernel death first
                    what = (
                        f"its {self.limits.disk_mb} MiB quota"
                        if used.bytes > disk_cap
                        else f"its quota of {self.limits.max_files} files and folders"
                    )
                    self.violation = Violation(
                        "DiskQuotaError",
                        f"the work dir grew past {what}; the kernel was restarted and its "
                        "state lost, and the largest files (then the largest folders) were "
                        "removed to get back under half the quota",
                    )
                    _kill_sandbox(pid)  # stop the writer before cleaning up
                    removed = await asyncio.to_thread(
                        _shrink, dirs, disk_cap // 2, self.limits.max_files // 2
                    )
                    log.warning("sandbox disk quota: removed %s", removed[:20])
            if self.violation is not None:
                log.warning("sandbox limit hit: %s", self.violation.value)
                _kill_sandbox(pid)
                return

    # -- execution -------------------------------------------------------------------

    async def execute(self, code: str, timeout: float) -> tuple[Execution, bool]:
        """Run ``code``; returns the execution and whether the kernel must be restarted.

        ``self.last_started`` tells whether the kernel acknowledged the request: a kernel that
        died before that (e.g. killed between calls) never ran the code, so it can be retried.
        """
        assert self.kc is not None
        kc = self.kc
        collector = _Collector(self.limits.output_bytes)
        self.last_started = False
        msg_id = kc.execute(code, store_history=True, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        interrupted_at: float | None = None
        restart = False
        while True:
            now = time.monotonic()
            if interrupted_at is None and (now >= deadline or collector.flooded):
                await self.interrupt()
                interrupted_at = now
            if interrupted_at is not None and now - interrupted_at > 2.0:
                restart = True  # the code ignores interrupts (or is stuck in C)
                break
            wait = _POLL_S if interrupted_at is not None else min(_POLL_S, deadline - now)
            try:
                msg = await kc.get_iopub_msg(timeout=max(wait, 0.001))
            except Empty:
                if not await self.is_alive():
                    restart = True
                    break
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            self.last_started = True
            if collector.add(msg):
                break
        if not restart:
            await self._drain_reply(msg_id)
        execution = collector.execution()
        if self.violation is not None and self._watchdog is not None:
            # the watchdog is still cleaning up after the violation: let it finish, so the
            # next call does not start a kernel while files are being removed
            await asyncio.wait({self._watchdog}, timeout=120)
        if self.violation is not None:
            execution.error = ExecutionError(name=self.violation.name, value=self.violation.value)
            restart = True
        elif collector.flooded:
            execution.error = ExecutionError(
                name="OutputLimitError",
                value=f"the code printed more than {_FLOOD_FACTOR}x the "
                f"{self.limits.output_bytes}-byte output cap and was interrupted",
            )
        elif interrupted_at is not None:
            how = (
                "did not stop when interrupted; the kernel was restarted and its state lost"
                if restart
                else "was interrupted; the kernel state is kept"
            )
            execution.error = ExecutionError(
                name="TimeoutError", value=f"execution exceeded its {timeout:g} s timeout and {how}"
            )
        elif restart:
            execution.error = ExecutionError(
                name="KernelDiedError",
                value="the kernel process died during execution (killed, or it hit a resource "
                "limit: memory, CPU time, processes); it was restarted and its state lost",
            )
        return execution, restart

    async def interrupt(self) -> None:
        """Ask the kernel to interrupt itself over the control channel (no host signals)."""
        if self.kc is not None:
            msg = self.kc.session.msg("interrupt_request", content={})
            self.kc.control_channel.send(msg)

    async def _drain_reply(self, msg_id: str) -> None:
        assert self.kc is not None
        for _ in range(100):
            try:
                reply = await self.kc.get_shell_msg(timeout=1.0)
            except Empty:
                return
            if reply["parent_header"].get("msg_id") == msg_id:
                return


class _Collector:
    """Turns IOPub messages of one execution into an ``Execution``, enforcing the caps."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.seen = 0
        self.kept = 0
        self.result_bytes = 0
        self.truncated = False
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.results: list[Result] = []
        self.error: ExecutionError | None = None
        self.execution_count: int | None = None

    @property
    def flooded(self) -> bool:
        return self.seen > _FLOOD_FACTOR * self.cap

    def add(self, msg: dict[str, Any]) -> bool:
        """Record one message; True when the execution is finished (kernel idle)."""
        kind = msg["header"]["msg_type"]
        content = msg["content"]
        if kind == "status":
            return bool(content.get("execution_state") == "idle")
        if kind == "stream":
            text = content.get("text", "")
            self.seen += len(text)
            room = self.cap - self.kept
            if len(text) > room:
                text = text[: max(room, 0)]
                self.truncated = True
            if text:
                self.kept += len(text)
                (self.stdout if content.get("name") == "stdout" else self.stderr).append(text)
        elif kind in ("execute_result", "display_data"):
            data = content.get("data", {})
            size = sum(len(v) if isinstance(v, str) else 256 for v in data.values())
            self.seen += len(data.get("text/plain", ""))
            if self.result_bytes + size > _RESULT_BYTES:
                self.truncated = True
            else:
                self.result_bytes += size
                self.results.append(
                    Result.from_mime_bundle(data, is_main_result=kind == "execute_result")
                )
            if kind == "execute_result":
                self.execution_count = content.get("execution_count")
        elif kind == "error":
            tb = "\n".join(_ANSI.sub("", line) for line in content.get("traceback", []))
            self.error = ExecutionError(
                name=content.get("ename", "Error"), value=content.get("evalue", ""), traceback=tb
            )
        elif kind == "execute_input":
            self.execution_count = content.get("execution_count")
        return False

    def execution(self) -> Execution:
        if self.truncated:
            self.stderr.append(
                f"\n[sandbox: output truncated; {self.seen - self.kept} characters over the "
                f"{self.cap}-character cap were dropped]\n"
            )
        return Execution(
            results=self.results,
            logs=Logs(stdout=self.stdout, stderr=self.stderr),
            error=self.error,
            execution_count=self.execution_count,
            truncated=self.truncated,
        )


def _tail(path: Path, size: int = 4000) -> str:
    # the socket dir is writable from inside: never follow a link planted there
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return "(no launch log)"
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "(no launch log)"
        fh.seek(max(0, os.fstat(fd).st_size - size))
        return fh.read(size).decode("utf-8", "replace").strip() or "(nothing)"


def _kill_sandbox(pid: int) -> None:
    """Kill a sandbox whose outermost process is ``pid`` (bwrap, or a plain kernel).

    Under bwrap, ``pid``'s child is the PID namespace's init: killing it makes the kernel
    kill every process in the namespace, and bwrap then reaps it and exits. Killing bwrap
    first would orphan that init to the host's PID 1, which in a container may never reap
    it. Without a child (unisolated), the process group is killed.
    """
    try:
        children = psutil.Process(pid).children()
    except psutil.Error:
        children = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    if not children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _pid(km: AsyncKernelManager | None) -> int | None:
    prov = getattr(km, "provisioner", None)
    proc = getattr(prov, "process", None)
    return getattr(proc, "pid", None)


def _tree_rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def _usage(paths: list[Path], stop_bytes: int, stop_entries: int) -> fdtree.Usage:
    """Bytes allocated (folders included) and entries under ``paths``, without following links."""
    total = fdtree.Usage()
    for path in paths:
        try:
            fd = fdtree.open_root(path)
        except OSError:
            continue
        try:
            u = fdtree.usage(
                fd, stop_bytes=stop_bytes - total.bytes, stop_entries=stop_entries - total.entries
            )
        finally:
            os.close(fd)
        total.bytes += u.bytes
        total.entries += u.entries
    return total


def _shrink(paths: list[Path], max_bytes: int, max_entries: int) -> list[str]:
    """Delete the largest files (then folders) under ``paths`` down to the targets."""
    removed: list[str] = []
    for path in paths:
        try:
            fd = fdtree.open_root(path)
        except OSError:
            continue
        try:
            share = max_bytes // len(paths)
            removed += fdtree.shrink(fd, max_bytes=share, max_entries=max_entries // len(paths))
        finally:
            os.close(fd)
    return removed
