"""Host-side access to a local sandbox's work dir, safe against code that plants symlinks.

Code in the sandbox owns its work dir and can swap any entry for a symlink, a FIFO or
a folder at any moment, also between the host's check and its use. So no operation
here resolves a path: each walks the path from a descriptor of the work dir, one
component at a time, without following links (``sandboxes.local.fdtree``), and
changes ownership on the open descriptor (``fchown``). A link anywhere on the path is
refused with ``SandboxFileError``, never followed.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Literal, overload

from sandboxes.errors import SandboxFileError
from sandboxes.local.fdtree import FILE_FLAGS, UnsafePathError, open_dir, open_root, split_relative


class LocalFiles:
    """Read and write files in the sandbox's work dir (the kernel's cwd).

    Paths are relative to the work dir (absolute paths under the in-sandbox work dir,
    e.g. ``/workspace/chart.png``, are accepted too). Every operation refuses links,
    FIFOs and anything outside the work dir, so code in the sandbox can make the host
    neither read nor write nor hand over a host file for it.
    """

    def __init__(self, work_dir: Path, sandbox_work_dir: str, owner_uid: int) -> None:
        self._root = work_dir.resolve()
        self._sandbox_root = sandbox_work_dir.rstrip("/")
        self._uid = owner_uid

    def _parts(self, path: str) -> list[str]:
        rel = path
        if rel == self._sandbox_root or rel.startswith(self._sandbox_root + "/"):
            rel = rel[len(self._sandbox_root) :].lstrip("/")
        if os.path.isabs(rel):
            raise SandboxFileError(
                f"{path!r} is outside the sandbox work dir; use a path relative to it "
                f"(e.g. 'chart.png') or under {self._sandbox_root}/"
            )
        try:
            return split_relative(rel)
        except UnsafePathError as exc:
            raise SandboxFileError(f"{path!r} escapes the sandbox work dir") from exc

    def host_path(self, path: str) -> Path:
        """The host path of a sandbox path, for display only.

        Opening it would follow whatever link the sandbox put there meanwhile: use
        ``read``/``write``/``exists``/``list``, which never do.
        """
        return self._root.joinpath(*self._parts(path))

    def _parent(self, path: str, parts: list[str], *, create: bool = False) -> int:
        root = open_root(self._root)
        try:
            return open_dir(root, parts[:-1], create=create, uid=self._uid)
        except UnsafePathError as exc:
            raise SandboxFileError(f"{path!r}: {exc} in the sandbox work dir; refusing") from exc
        except FileNotFoundError as exc:
            raise SandboxFileError(f"no file {path!r} in the sandbox work dir") from exc
        except OSError as exc:
            raise SandboxFileError(f"cannot reach {path!r}: {exc.strerror}") from exc
        finally:
            os.close(root)

    def _open(self, path: str, flags: int, *, create: bool = False) -> int:
        parts = self._parts(path)
        if not parts:
            raise SandboxFileError(f"{path!r} is the work dir itself, not a file")
        parent = self._parent(path, parts, create=create)
        try:
            fd = os.open(parts[-1], flags | FILE_FLAGS, 0o644, dir_fd=parent)
        except FileNotFoundError as exc:
            raise SandboxFileError(f"no file {path!r} in the sandbox work dir") from exc
        except OSError as exc:
            why = {
                errno.ELOOP: "is a symlink; refusing",
                errno.ENXIO: "is a FIFO or socket, not a file",
                errno.EISDIR: "is a folder, not a file",
            }.get(exc.errno or 0, f"cannot be opened: {exc.strerror}")
            raise SandboxFileError(f"{path!r} {why}") from exc
        finally:
            os.close(parent)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise SandboxFileError(f"{path!r} is not a regular file")
        return fd

    @overload
    def read(self, path: str, format: Literal["text"] = "text") -> str: ...
    @overload
    def read(self, path: str, format: Literal["bytes"]) -> bytes: ...
    def read(self, path: str, format: Literal["text", "bytes"] = "text") -> str | bytes:
        fd = self._open(path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as fh:
            data = fh.read()
        return data if format == "bytes" else data.decode("utf-8")

    def write(self, path: str, data: str | bytes) -> str:
        """Write a file (parents created); returns its path inside the sandbox."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        # no O_TRUNC at open: a file is only truncated once it is known to be a regular one
        fd = self._open(path, os.O_WRONLY | os.O_CREAT, create=True)
        with os.fdopen(fd, "wb") as fh:
            if self._uid:
                os.fchown(fd, self._uid, self._uid)
            os.ftruncate(fd, 0)
            fh.write(payload)
        return f"{self._sandbox_root}/{'/'.join(self._parts(path))}"

    def exists(self, path: str) -> bool:
        """Whether anything (a link included) is at ``path``; links on the way are refused."""
        parts = self._parts(path)
        if not parts:
            return True
        try:
            parent = self._parent(path, parts)
        except SandboxFileError:
            return False
        try:
            os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
            return True
        except FileNotFoundError:
            return False
        finally:
            os.close(parent)

    def list(self, path: str = ".") -> list[str]:
        """Names in a directory of the work dir, sorted."""
        parts = self._parts(path)
        root = open_root(self._root)
        try:
            fd = open_dir(root, parts)
        except OSError as exc:
            raise SandboxFileError(f"{path!r} is not a directory in the sandbox work dir") from exc
        finally:
            os.close(root)
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)
