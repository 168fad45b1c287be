"""Code in the sandbox racing the host's file operations on the work dir, tried for real.

The kernel runs a background thread that keeps swapping a file (or a folder on the
path) between a real one and a symlink to a host path, while the host reads and writes
through ``sandbox.files``. Every host-side operation must work on descriptors opened
component by component without following links, so no interleaving reaches the host
file. And a work dir may not hold more than its quota in inodes or directory blocks.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandboxes import LocalSandbox, SandboxFileError, SandboxLimits

SWAPPER = """
import ctypes, os, threading
stop = threading.Event()
libc = ctypes.CDLL(None, use_errno=True)
def swap(name, target, make_real):
    # `name` is, alternately and atomically (renameat2 RENAME_EXCHANGE), a real file or
    # folder and a symlink to a host path; it never goes missing
    make_real(name)
    os.symlink(target, name + '.lnk')
    a, b = name.encode(), (name + '.lnk').encode()
    while not stop.is_set():
        if libc.renameat2(-100, a, -100, b, 2) != 0:
            raise OSError(ctypes.get_errno(), 'renameat2')
"""


@pytest.fixture(scope="module")
def racer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSandbox]:
    work = tmp_path_factory.mktemp("race-work")
    limits = SandboxLimits(memory_mb=1536, processes=64, disk_mb=64, file_size_mb=16)
    with LocalSandbox(work_dir=work, limits=limits) as sb:
        yield sb


def _start(sb: LocalSandbox, call: str) -> None:
    ex = sb.run_code(
        SWAPPER + f"t = threading.Thread(target=swap, args={call}, daemon=True)\nt.start()"
    )
    assert ex.error is None, ex.error


def _stop(sb: LocalSandbox) -> None:
    sb.run_code("stop.set(); t.join()")


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "host-only" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("TOPSECRET-HOST")
    os.chmod(secret, 0o600)
    return secret


def test_host_write_never_follows_a_swapped_in_symlink(racer: LocalSandbox, tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    before = secret.stat()
    _start(racer, f"('data.json', {str(secret)!r}, lambda n: open(n, 'w').close())")
    try:
        for _ in range(3000):
            # refused when a link is there (a SandboxFileError, never an OSError): fine
            with contextlib.suppress(SandboxFileError):
                racer.files.write("data.json", b'{"x": 1}')
    finally:
        _stop(racer)
    after = secret.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (
        before.st_uid,
        before.st_gid,
        0o600,
    ), "the host handed its file to the sandbox"
    assert secret.read_text() == "TOPSECRET-HOST"


def test_host_write_never_lands_through_a_swapped_in_folder(
    racer: LocalSandbox, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    _start(racer, f"('sub', {str(victim)!r}, lambda n: os.mkdir(n))")
    try:
        for _ in range(3000):
            with contextlib.suppress(SandboxFileError):
                racer.files.write("sub/planted.json", b"{}")
    finally:
        _stop(racer)
    assert list(victim.iterdir()) == [], "the host wrote outside the work dir"
    assert list(victim.parent.iterdir()) == [victim]


def test_host_read_never_follows_a_swapped_in_folder(racer: LocalSandbox, tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    maker = "lambda n: (os.mkdir(n), open(n + '/secret.txt', 'w').write('decoy'))"
    _start(racer, f"('dir', {str(secret.parent)!r}, {maker})")
    seen: set[str] = set()
    try:
        for _ in range(3000):
            with contextlib.suppress(SandboxFileError):
                seen.add(racer.files.read("dir/secret.txt"))
    finally:
        _stop(racer)
    assert "TOPSECRET-HOST" not in seen


def test_a_fifo_or_a_link_is_refused_with_a_sandbox_error(racer: LocalSandbox) -> None:
    racer.run_code("import os; os.mkfifo('pipe'); os.symlink('/etc/hostname', 'link')")
    for path in ("pipe", "link"):
        with pytest.raises(SandboxFileError):
            racer.files.write(path, "x")  # a FIFO must not block the host
        with pytest.raises(SandboxFileError):
            racer.files.read(path)
    assert racer.files.exists("link") and "pipe" in racer.files.list(".")


def test_inodes_and_directory_blocks_count_against_the_quota(tmp_path: Path) -> None:
    limits = SandboxLimits(memory_mb=1536, processes=64, disk_mb=16, file_size_mb=8)
    with LocalSandbox(work_dir=tmp_path / "w", limits=limits) as sb:
        ex = sb.run_code(
            "import os\nfor i in range(30000):\n    os.mkdir(f'd{i}')\n    open(f'f{i}', 'w').close()",
            timeout=60,
        )
        assert ex.error is not None and ex.error.name == "DiskQuotaError", ex.error
        entries = sum(1 for _ in (tmp_path / "w").rglob("*"))
        assert entries < limits.max_files
        assert sb.run_code("1 + 1").text == "2"
        ex = sb.run_code(
            "import os\nfor i in range(200000):\n    open(f'e{i}', 'w').close()", timeout=60
        )
        assert ex.error is not None and ex.error.name == "DiskQuotaError", ex.error
        assert sb.run_code("1 + 1").text == "2"
