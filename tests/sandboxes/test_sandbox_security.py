"""What code in a LocalSandbox must not be able to do, tried for real."""

from __future__ import annotations

import ast
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from sandboxes import LocalSandbox


@pytest.fixture()
def loopback_server() -> Iterator[int]:
    """A TCP server on the host's loopback that records whether anyone connected."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    hits: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            hits.append(conn)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join()
    srv.close()
    assert hits == [], "the sandbox reached a server on the host's loopback"


def test_the_kernel_really_runs_under_bwrap(sandbox: LocalSandbox) -> None:
    # guards against the launch command being silently ignored (then nothing below holds)
    pid = sandbox.kernel_pid()
    assert pid is not None
    host_proc = psutil.Process(pid)
    assert os.path.basename(host_proc.cmdline()[0]) == "bwrap"
    kernel = [
        p
        for p in host_proc.children(recursive=True)
        if "ipykernel_launcher" in " ".join(p.cmdline())
    ]
    assert kernel, "no kernel process under bwrap"
    ex = sandbox.run_code("import os; (os.getpid(), os.getuid() != 0, sorted(os.listdir('/')))")
    inner_pid, not_root, root_listing = ast.literal_eval(ex.text or "")
    assert inner_pid < 10 and inner_pid != kernel[0].pid  # own PID namespace
    assert not_root or os.geteuid() != 0
    assert "home" not in root_listing and "workspace" in root_listing


def test_no_connection_to_the_host_loopback(sandbox: LocalSandbox, loopback_server: int) -> None:
    ex = sandbox.run_code(
        f"import socket\nsocket.create_connection(('127.0.0.1', {loopback_server}), timeout=2)"
    )
    assert ex.error is not None and ex.error.name in (
        "ConnectionRefusedError",
        "OSError",
        "TimeoutError",
    )


def test_no_name_resolution(sandbox: LocalSandbox) -> None:
    ex = sandbox.run_code("import socket\nsocket.getaddrinfo('pypi.org', 443)", timeout=20)
    assert ex.error is not None and ex.error.name == "gaierror"


def test_secret_files_in_project_and_home_are_unreadable(
    sandbox: LocalSandbox, secret_files: list[Path]
) -> None:
    for path in secret_files:
        ex = sandbox.run_code(f"open({str(path)!r}).read()")
        assert ex.error is not None, f"{path} was readable"
        assert "TOPSECRET" not in (ex.text or "")
    ex = sandbox.run_code(
        "import subprocess\n"
        "print(subprocess.run(['grep', '-r', '-s', '-l', 'TOPSECRET-42', '/etc', '/usr/local', '/inputs', '/tmp', '/workspace'], capture_output=True, text=True).stdout)",
        timeout=60,
    )
    assert "secret-for-sandbox-test" not in ex.stdout


def test_no_api_keys_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limits: object
) -> None:
    monkeypatch.setenv("FAKE_SERVICE_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("OTHER_TOKEN", "tok-should-not-leak")
    with LocalSandbox(work_dir=tmp_path) as sb:
        ex = sb.run_code("import os; sorted(os.environ)")
        assert ex.error is None
        assert "API_KEY" not in (ex.text or "") and "TOKEN" not in (ex.text or "")
        ex = sb.run_code(
            "open('/proc/1/environ','rb').read() + open('/proc/self/environ','rb').read()"
        )
        assert b"leak" not in (ex.text or "").encode()


def test_no_writes_outside_the_work_dir(sandbox: LocalSandbox, repo_root: Path) -> None:
    for target in [
        "/etc/evil",
        "/usr/evil",
        str(repo_root / "evil"),
        str(Path.home() / "evil"),
        "/inputs/evil",
    ]:
        ex = sandbox.run_code(f"open({target!r}, 'w').write('x')")
        assert ex.error is not None, f"wrote {target}"
        assert not Path(target).exists()
    # /tmp is private to the sandbox
    sandbox.run_code("open('/tmp/sandbox-private-marker', 'w').write('x')")
    assert not Path("/tmp/sandbox-private-marker").exists()


def test_a_symlink_cannot_make_the_host_read_for_it(
    sandbox: LocalSandbox, secret_files: list[Path]
) -> None:
    from sandboxes import SandboxFileError

    sandbox.run_code(f"import os; os.symlink({str(secret_files[0])!r}, 'leak.txt')")
    with pytest.raises(SandboxFileError):
        sandbox.files.read("leak.txt")
    with pytest.raises(SandboxFileError):
        sandbox.files.read("../../etc/passwd")


def test_fork_bomb_is_contained(sandbox: LocalSandbox) -> None:
    ex = sandbox.run_code(
        "import os\nfailed = 0\nwhile failed < 2000:\n    try:\n        os.fork()\n    except OSError:\n        failed += 1",
        timeout=5,
    )
    assert ex.error is not None  # killed (memory watchdog or timeout), never the host
    assert sandbox.run_code("1 + 1").text == "2"


def test_process_limit_stops_forks(sandbox: LocalSandbox, limits: object) -> None:
    ex = sandbox.run_code(
        "import os, time\nn = 0\nfor _ in range(1000):\n"
        "    try:\n        pid = os.fork()\n    except OSError as e:\n        err = e.errno; break\n"
        "    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n    n += 1\n(n, err)",
        timeout=20,
    )
    n, errno = ast.literal_eval(ex.text or "")
    assert errno == 11 and n < 64  # EAGAIN at RLIMIT_NPROC
    sandbox.restart()  # reap the sleepers


def test_memory_bomb_is_contained(sandbox: LocalSandbox) -> None:
    ex = sandbox.run_code("x = []\nwhile True:\n    x.append(bytearray(64 * 2**20))", timeout=20)
    assert ex.error is not None and ex.error.name == "MemoryError"
    assert sandbox.run_code("1 + 1").text == "2"


def test_disk_filler_is_contained(sandbox: LocalSandbox) -> None:
    ex = sandbox.run_code(
        "f = open('big.bin', 'wb')\nwhile True:\n    f.write(b'x' * 2**20)", timeout=20
    )
    assert ex.error is not None and "too large" in ex.error.value  # RLIMIT_FSIZE
    ex = sandbox.run_code(
        "i = 0\nwhile True:\n    open(f'fill{i}.bin', 'wb').write(b'x' * 8 * 2**20)\n    i += 1",
        timeout=30,
    )
    assert ex.error is not None and ex.error.name == "DiskQuotaError"
    total = sum(p.stat().st_size for p in sandbox.work_dir.rglob("*") if p.is_file())
    assert total <= 64 * 2**20
    assert sandbox.run_code("1 + 1").text == "2"


def test_output_flood_is_capped(sandbox: LocalSandbox) -> None:
    ex = sandbox.run_code("while True:\n    print('x' * 1000)", timeout=30)
    assert ex.error is not None and ex.error.name == "OutputLimitError"
    assert ex.truncated and len(ex.stdout) <= 20_000
    assert sandbox.run_code("1 + 1").text == "2"


def test_infinite_loop_ends_at_the_timeout_and_state_is_kept(sandbox: LocalSandbox) -> None:
    sandbox.run_code("kept = 'yes'")
    ex = sandbox.run_code("while True:\n    pass", timeout=1)
    assert ex.error is not None and ex.error.name == "TimeoutError"
    assert 1.0 <= ex.duration_s < 3.0
    assert sandbox.run_code("kept").text == "'yes'"


def test_code_ignoring_interrupts_is_killed_at_the_timeout(sandbox: LocalSandbox) -> None:
    ex = sandbox.run_code(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
        timeout=1,
    )
    assert (
        ex.error is not None and ex.error.name == "TimeoutError" and "restarted" in ex.error.value
    )
    assert sandbox.run_code("1 + 1").text == "2"


def test_kill_9_of_the_kernel_is_recovered(sandbox: LocalSandbox) -> None:
    pid = sandbox.kernel_pid()
    assert pid is not None
    kernel = [
        p for p in psutil.Process(pid).children(recursive=True) if p.name().startswith("python")
    ]
    kernel[0].kill()  # kill -9 from the host, between calls
    kernel[0].wait(5)
    assert sandbox.run_code("1 + 1").text == "2"
    # and from inside, during a call
    ex = sandbox.run_code("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert ex.error is not None and ex.error.name == "KernelDiedError"
    assert sandbox.run_code("1 + 1").text == "2"


def test_the_socket_dir_counts_against_the_disk_quota(sandbox: LocalSandbox) -> None:
    # the IPC socket dir is bound writable into the sandbox; filling it must not escape
    ex = sandbox.run_code(
        "import glob, os\nd = os.path.dirname(glob.glob('/tmp/wb-sbx-*/k*/kernel.json')[0])\n"
        "i = 0\nwhile True:\n    open(f'{d}/fill{i}', 'wb').write(b'x' * 8 * 2**20)\n    i += 1",
        timeout=30,
    )
    assert ex.error is not None and ex.error.name == "DiskQuotaError"
    assert sandbox.run_code("1 + 1").text == "2"


def test_shared_memory_works_but_is_capped(sandbox: LocalSandbox) -> None:
    ex = sandbox.run_code(
        "import multiprocessing as mp\nl = mp.Lock()\nl.acquire(); l.release(); 'ok'"
    )
    assert ex.text == "'ok'", ex.error
    ex = sandbox.run_code("open('/dev/shm/big', 'wb').write(b'x' * 400 * 2**20)", timeout=20)
    assert ex.error is not None  # tmpfs size cap (or RLIMIT_FSIZE) stops it
    sandbox.run_code("import os; os.path.exists('/dev/shm/big') and os.remove('/dev/shm/big')")


def test_open_files_are_limited(sandbox: LocalSandbox) -> None:
    ex = sandbox.run_code(
        "fs = []\ntry:\n    while True:\n        fs.append(open('/dev/null'))\n"
        "except OSError as e:\n    err = e.errno\nn = len(fs)\nfor f in fs:\n    f.close()\n(n, err)",
        timeout=20,
    )
    n, errno = ast.literal_eval(ex.text or "")
    assert errno == 24 and n < 1024  # EMFILE at RLIMIT_NOFILE


def test_cpu_time_is_limited(tmp_path: Path) -> None:
    from sandboxes import SandboxLimits

    with LocalSandbox(work_dir=tmp_path, limits=SandboxLimits(cpu_s=2)) as sb:
        ex = sb.run_code("while True:\n    pass", timeout=30)
        assert ex.error is not None and ex.error.name == "KernelDiedError"  # SIGXCPU
        assert ex.duration_s < 15
        assert sb.run_code("1 + 1").text == "2"


def test_a_huge_message_forged_on_the_kernel_socket_cannot_bloat_the_host(
    sandbox: LocalSandbox,
) -> None:
    before = psutil.Process().memory_info().rss
    ex = sandbox.run_code(
        "k = get_ipython().kernel\n"
        "k.session.send(k.iopub_socket, 'stream', {'name': 'stdout', 'text': 'x' * (100 * 2**20)},"
        " parent=k.get_parent('shell'))",
        timeout=3,
    )
    assert ex.error is not None and ex.stdout == ""
    assert psutil.Process().memory_info().rss - before < 50 * 2**20
    assert sandbox.run_code("1 + 1").text == "2"
