"""Host-side operations on a folder the sandbox can write to, immune to symlink races.

Code in the sandbox can swap any file or folder of its work dir for a symlink (or a
FIFO) at any moment, including between the host's check and its use. So nothing here
resolves a path: every folder is opened component by component relative to the
descriptor of its parent with ``O_NOFOLLOW | O_DIRECTORY``, every file is opened with
``O_NOFOLLOW | O_NONBLOCK`` relative to its folder's descriptor, and ownership, type
and size are read and changed on the open descriptor (``fstat``, ``fchown``). A link
found where a folder or file should be is an error, never followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UnsafePathError(OSError):
    """A path component is a link, not a folder, or escapes the root."""


def split_relative(path: str) -> list[str]:
    """The components of a relative path; '' and '.' dropped, '..' and absolute refused."""
    if path.startswith("/"):
        raise UnsafePathError(f"{path!r} is absolute")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafePathError(f"{path!r} leaves the folder")
    return parts


def open_root(root: str | os.PathLike[str]) -> int:
    """A descriptor of the root folder itself (host-made; refused if it is a link)."""
    return os.open(root, DIR_FLAGS)


def open_dir(root_fd: int, parts: list[str], *, create: bool = False, uid: int = 0) -> int:
    """Descriptor of the folder ``parts`` under ``root_fd``, made (and given to ``uid``)
    when ``create``. Raises ``UnsafePathError`` when a component is a link or a file."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            try:
                nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)  # mkdir never follows a final link
                nfd = _open_child_dir(fd, part)
                if uid:
                    os.fchown(nfd, uid, uid)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link or a file on the path
                    raise UnsafePathError(f"{part!r} is a link or not a folder") from exc
                raise
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_child_dir(fd: int, part: str) -> int:
    try:
        return os.open(part, DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePathError(f"{part!r} is a link or not a folder") from exc
        raise


def give_to(path: str | os.PathLike[str], uid: int) -> None:
    """``chown`` a host-made file or folder to ``uid`` through a descriptor (no link followed)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.fchown(fd, uid, uid)
    finally:
        os.close(fd)


@dataclass
class Usage:
    """What a folder tree holds: bytes allocated (files, folders, links) and entries."""

    bytes: int = 0
    entries: int = 0


def _scan(fd: int) -> Iterator[tuple[str, os.stat_result]]:
    with os.scandir(fd) as it:
        entries = list(it)
    for entry in entries:
        try:
            yield entry.name, entry.stat(follow_symlinks=False)
        except OSError:
            continue


def usage(root_fd: int, *, stop_bytes: int | None = None, stop_entries: int | None = None) -> Usage:
    """Allocated bytes (every inode's blocks, folders included) and number of entries.

    Stops counting once either figure passes its stop value (the caller only needs to
    know the quota is exceeded).
    """
    total = Usage(bytes=os.fstat(root_fd).st_blocks * 512)
    stack = [os.dup(root_fd)]
    try:
        while stack:
            fd = stack.pop()
            try:
                for name, st in _scan(fd):
                    total.entries += 1
                    total.bytes += st.st_blocks * 512
                    if stat.S_ISDIR(st.st_mode):
                        with contextlib.suppress(OSError):
                            stack.append(os.open(name, DIR_FLAGS, dir_fd=fd))
                    if (stop_bytes is not None and total.bytes > stop_bytes) or (
                        stop_entries is not None and total.entries > stop_entries
                    ):
                        return total
            finally:
                os.close(fd)
    finally:
        for fd in stack:
            os.close(fd)
    return total


def remove_entry(dir_fd: int, name: str) -> None:
    """Remove ``name`` under ``dir_fd``: a file or link is unlinked, a folder removed whole."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        try:
            sub = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
        except OSError:  # swapped for a link meanwhile: unlink that
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=dir_fd)
            return
        try:
            empty(sub)
        finally:
            os.close(sub)
        with contextlib.suppress(OSError):
            os.rmdir(name, dir_fd=dir_fd)
    else:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)


def empty(dir_fd: int) -> None:
    """Remove everything inside the folder ``dir_fd`` (the folder itself stays)."""
    with os.scandir(dir_fd) as it:
        names = [e.name for e in it]
    for name in names:
        remove_entry(dir_fd, name)


def empty_dir(path: str | os.PathLike[str]) -> None:
    """``empty`` for a host-made folder given by path (the root itself is never a link)."""
    fd = open_root(path)
    try:
        empty(fd)
    finally:
        os.close(fd)


def _files(root_fd: int) -> list[tuple[int, list[str]]]:
    """(allocated bytes, components) of every non-folder entry under ``root_fd``."""
    out: list[tuple[int, list[str]]] = []
    stack: list[tuple[int, list[str]]] = [(os.dup(root_fd), [])]
    while stack:
        fd, parts = stack.pop()
        try:
            for name, st in _scan(fd):
                if stat.S_ISDIR(st.st_mode):
                    with contextlib.suppress(OSError):
                        stack.append((os.open(name, DIR_FLAGS, dir_fd=fd), [*parts, name]))
                else:
                    out.append((st.st_blocks * 512, [*parts, name]))
        finally:
            os.close(fd)
    return out


def shrink(root_fd: int, *, max_bytes: int, max_entries: int) -> list[str]:
    """Remove the largest files, then whole top-level entries, until the tree holds at
    most ``max_bytes`` and ``max_entries``; returns what was removed (relative paths)."""
    removed: list[str] = []
    now = usage(root_fd)
    for size, parts in sorted(_files(root_fd), reverse=True):
        if now.bytes <= max_bytes or size == 0:
            break
        try:
            parent = open_dir(root_fd, parts[:-1])
        except OSError:
            continue
        try:
            os.unlink(parts[-1], dir_fd=parent)
            now.bytes -= size
            now.entries -= 1
            removed.append("/".join(parts))
        except OSError:
            pass
        finally:
            os.close(parent)
    if now.bytes > max_bytes or now.entries > max_entries:
        # many small files or folders: whole top-level entries go, the largest first
        sizes = []
        for name, st in list(_scan(root_fd)):
            own = Usage(bytes=st.st_blocks * 512, entries=1)
            if stat.S_ISDIR(st.st_mode):
                try:
                    sub = os.open(name, DIR_FLAGS, dir_fd=root_fd)
                except OSError:
                    sub = -1
                if sub >= 0:
                    try:
                        inner = usage(sub)
                    finally:
                        os.close(sub)
                    own = Usage(bytes=inner.bytes, entries=inner.entries + 1)
            sizes.append((own.entries, own.bytes, name))
        for entries, size, name in sorted(sizes, reverse=True):
            if now.bytes <= max_bytes and now.entries <= max_entries:
                break
            remove_entry(root_fd, name)
            removed.append(name)
            now.bytes -= size
            now.entries -= entries
    return removed
