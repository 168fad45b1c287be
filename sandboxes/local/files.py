"""Host-side access to a local sandbox's work dir, safe against code that plants symlinks."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal, overload

from sandboxes.errors import SandboxFileError


class LocalFiles:
    """Read and write files in the sandbox's work dir (the kernel's cwd).

    Paths are relative to the work dir (absolute paths under the in-sandbox work dir,
    e.g. ``/workspace/chart.png``, are accepted too). Reads refuse symlinks and anything
    that resolves outside the work dir, so code in the sandbox cannot make the host read
    its files for it.
    """

    def __init__(self, work_dir: Path, sandbox_work_dir: str, owner_uid: int) -> None:
        self._root = work_dir.resolve()
        self._sandbox_root = sandbox_work_dir.rstrip("/")
        self._uid = owner_uid

    def host_path(self, path: str) -> Path:
        """The host path of a sandbox path, checked to stay inside the work dir."""
        rel = path
        if rel == self._sandbox_root or rel.startswith(self._sandbox_root + "/"):
            rel = rel[len(self._sandbox_root) :].lstrip("/")
        if os.path.isabs(rel):
            raise SandboxFileError(
                f"{path!r} is outside the sandbox work dir; use a path relative to it "
                f"(e.g. 'chart.png') or under {self._sandbox_root}/"
            )
        full = Path(os.path.normpath(self._root / rel))
        if full != self._root and self._root not in full.parents:
            raise SandboxFileError(f"{path!r} escapes the sandbox work dir")
        real = Path(os.path.realpath(full))
        if real != self._root and self._root not in real.parents:
            raise SandboxFileError(f"{path!r} resolves outside the sandbox work dir (a symlink?)")
        return full

    @overload
    def read(self, path: str, format: Literal["text"] = "text") -> str: ...
    @overload
    def read(self, path: str, format: Literal["bytes"]) -> bytes: ...
    def read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes:
        full = self.host_path(path)
        try:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError as exc:
            raise SandboxFileError(f"no file {path!r} in the sandbox work dir") from exc
        except OSError as exc:
            raise SandboxFileError(f"cannot read {path!r}: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SandboxFileError(f"{path!r} is not a regular file")
            data = fh.read()
        return data if format == "bytes" else data.decode("utf-8")

    def write(self, path: str, data: str | bytes) -> str:
        """Write a file (parents created); returns its path inside the sandbox."""
        full = self.host_path(path)
        full.parent.mkdir(parents=True, exist_ok=True)
        payload = data.encode("utf-8") if isinstance(data, str) else data
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        if self._uid:
            for p in [full, *full.parents]:
                if p == self._root:
                    break
                os.chown(p, self._uid, self._uid)
        return f"{self._sandbox_root}/{full.relative_to(self._root).as_posix()}"

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.host_path(path))

    def list(self, path: str = ".") -> list[str]:
        """Names in a directory of the work dir, sorted."""
        full = self.host_path(path)
        if not full.is_dir():
            raise SandboxFileError(f"{path!r} is not a directory in the sandbox work dir")
        return sorted(os.listdir(full))
