"""An advisory lock on a file (`fcntl.flock`) that says who holds it.

One writer at a time per index directory (and, in the workbench, per run): a second
process waits for the lock, or is told which process holds it. The holder writes
"pid N on HOST since TIME (PURPOSE)" into the lock file; the lock itself is the
kernel's, so a killed holder releases it at once (no stale lock to clean up).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from retrieval.errors import IndexStateError


class LockedError(IndexStateError):
    """The lock is held by another process and the caller chose not to wait."""


class FileLock:
    """`with lock.hold(purpose):` holds it; re-entrant within one object and thread."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None
        self._depth = 0
        self._mutex = threading.RLock()

    def holder(self) -> str:
        """Who holds the lock, as its holder wrote it ("" when unknown)."""
        try:
            return self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return ""

    def is_held(self) -> bool:
        """Whether any process (this one included, through another object) holds it."""
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    @contextlib.contextmanager
    def hold(
        self,
        purpose: str = "",
        *,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        with self._mutex:
            if self._depth == 0:
                self._acquire(purpose, wait=wait, on_wait=on_wait)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self, purpose: str, *, wait: bool, on_wait: Callable[[str], None] | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                who = self.holder() or "another process"
                if not wait:
                    raise LockedError(f"{self.what} is in use by {who}") from None
                if on_wait is not None:
                    on_wait(f"waiting for {self.what}, in use by {who}")
                fcntl.flock(fd, fcntl.LOCK_EX)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            note = f"pid {os.getpid()} on {socket.gethostname()} since {stamp}"
            os.ftruncate(fd, 0)
            os.write(fd, (note + (f" ({purpose})" if purpose else "")).encode())
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing releases the flock
