"""The bubblewrap command line and the in-sandbox launcher of the kernel.

Isolation model (what holds, and its limits):

- Filesystem: an allow-list, not ``--ro-bind / /``. Only ``/usr`` (and the merged-usr
  links), ``/etc`` and the Python installation(s) the kernel needs are bound read-only.
  ``/root``, ``/home``, the project and everything else do not exist inside. ``/tmp`` is
  a private size-capped tmpfs; the work dir is the only writable host path; inputs are a
  read-only staging dir at ``/inputs``.
- ``--unshare-net`` (only a private loopback), ``--unshare-pid`` (own PID namespace,
  killing bwrap kills every process of the sandbox), ``--die-with-parent``,
  ``--clearenv`` plus an explicit environment (no secrets can leak in).
- Resource limits are set by the launcher inside the sandbox with ``setrlimit`` before
  any user code: address space, CPU time, processes, open files, file size.
  ``RLIMIT_NPROC`` counts processes per *real uid* and root is exempt from it, so when the
  host runs as root the launcher drops to a dedicated unprivileged uid (and no
  capabilities) first; as a normal user, bwrap's user namespace scopes the count to the
  sandbox. The aggregate memory of many processes and the work dir's total size are
  watched from the host (see ``kernel.py``), which is not a hard guarantee like a cgroup.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sandboxes.errors import SandboxUnavailableError

WORK_DIR = "/workspace"
INPUTS_DIR = "/inputs"

INSTALL_HINT = (
    "bubblewrap (`bwrap`) is not installed, so LocalSandbox cannot isolate code. "
    "Install it: `sudo apt-get install bubblewrap` (Debian/Ubuntu), `sudo dnf install "
    "bubblewrap` (Fedora), `sudo pacman -S bubblewrap` (Arch). Or pass "
    "`isolation='none'` to run code UNISOLATED on this machine, at your own risk."
)


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one local sandbox. Sizes in MiB, times in seconds."""

    memory_mb: int = 4096  # RLIMIT_AS per process; the host also watches the sum of RSS
    cpu_s: int = 1800  # RLIMIT_CPU per process (a pooled kernel accumulates CPU time)
    processes: int = 256  # RLIMIT_NPROC: processes *and threads* of the sandbox's uid
    open_files: int = 1024  # RLIMIT_NOFILE
    file_size_mb: int = 512  # RLIMIT_FSIZE: the largest single file the code can write
    disk_mb: int = 1024  # total size of the work dir (folders included), watched from the host
    max_files: int = 100_000  # files, folders and links in the work dir, watched from the host
    tmp_mb: int = 256  # size of the private /tmp tmpfs
    output_bytes: int = 1_000_000  # stdout+stderr+text results kept per execution

    def rlimits(self) -> dict[str, int]:
        mib = 1024 * 1024
        return {
            "RLIMIT_AS": self.memory_mb * mib,
            "RLIMIT_CPU": self.cpu_s,
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_FSIZE": self.file_size_mb * mib,
            "RLIMIT_CORE": 0,
        }


# Runs inside the sandbox as `python -c LAUNCHER <json> <ipykernel args...>`: set the
# limits, drop root if we are root, then become the kernel in the same process.
LAUNCHER = """\
import json, os, resource, sys
cfg = json.loads(sys.argv[1])
for name, value in cfg["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
uid = cfg["uid"]
if os.getuid() == 0 and uid:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
os.umask(0o022)
os.chdir(cfg["cwd"])
sys.argv = ["ipykernel_launcher", *sys.argv[2:]]
del json, os, resource, cfg, uid
import runpy
runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
"""


def find_bwrap() -> str | None:
    return shutil.which("bwrap")


def require_bwrap() -> str:
    path = find_bwrap()
    if path is None:
        raise SandboxUnavailableError(INSTALL_HINT)
    return path


_UID_BASE = 1_900_000_000
_uid_counter = 0


def allocate_uid() -> int:
    """A fresh unprivileged uid for one sandbox when the host runs as root (0 otherwise).

    One uid per sandbox keeps RLIMIT_NPROC a per-sandbox limit: it counts all processes
    of a uid, so sandboxes sharing one would share the budget.
    """
    global _uid_counter
    if os.geteuid() != 0:
        return 0
    _uid_counter += 1
    return _UID_BASE + (os.getpid() % 100_000) * 1000 + _uid_counter % 1000


def python_roots() -> list[str]:
    """Directories that hold the interpreter and the packages the kernel imports."""
    roots: list[str] = []
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.realpath(sys.executable)]
    for mod in ("ipykernel", "jupyter_client", "matplotlib", "polars", "numpy"):
        spec = _find_spec_dir(mod)
        if spec:
            candidates.append(spec)
    for cand in candidates:
        real = os.path.realpath(cand)
        if os.path.isfile(real):
            real = os.path.dirname(os.path.dirname(real))  # .../bin/python -> prefix
        for path in {cand if os.path.isdir(cand) else real, real}:
            if path.startswith("/usr/") or path == "/usr":
                continue
            if not any(path == r or path.startswith(r + "/") for r in roots):
                roots = [r for r in roots if not r.startswith(path + "/")]
                roots.append(path)
    return sorted(roots)


def _find_spec_dir(module: str) -> str | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.dirname(next(iter(spec.submodule_search_locations)))


def sandbox_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of the kernel: nothing is inherited from the host."""
    threads = str(min(4, os.cpu_count() or 1))
    env = {
        "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "USER": "sandbox",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "IPYTHONDIR": "/tmp/ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
        "XDG_CACHE_HOME": "/tmp/cache",
        # bound thread pools: threads count against RLIMIT_NPROC
        "POLARS_MAX_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "SANDBOX_WORK_DIR": WORK_DIR,
        "SANDBOX_INPUTS_DIR": INPUTS_DIR,
    }
    if extra:
        bad = [k for k in extra if k.upper().endswith(("_KEY", "_TOKEN", "_SECRET"))]
        if bad:
            raise ValueError(
                f"refusing to pass secret-looking variables into a sandbox: {sorted(bad)}"
            )
        env.update(extra)
    return env


@dataclass
class BwrapSpec:
    """Everything needed to build one sandbox's command line."""

    bwrap: str
    work_dir: Path
    inputs_dir: Path
    runtime_dir: Path  # holds the connection file and the IPC sockets
    limits: SandboxLimits
    uid: int
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, kernel_args: list[str]) -> list[str]:
        args = [self.bwrap, "--die-with-parent", "--unshare-pid", "--unshare-net"]
        args += ["--unshare-ipc", "--unshare-uts", "--hostname", "sandbox"]
        if os.geteuid() != 0:
            args += ["--unshare-user"]  # scopes RLIMIT_NPROC to this sandbox
        args += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/") / name
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        args += ["--ro-bind", "/etc", "/etc"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--perms", "1777", "--size", str(self.limits.tmp_mb * 1024 * 1024)]
        args += ["--tmpfs", "/tmp"]
        # POSIX semaphores (multiprocessing) need a writable /dev/shm; capped like /tmp
        args += ["--perms", "1777", "--size", str(self.limits.tmp_mb * 1024 * 1024)]
        args += ["--tmpfs", "/dev/shm"]
        made: set[str] = {"/", "/usr", "/etc", "/tmp", "/proc", "/dev"}
        for root in [*python_roots(), str(self.runtime_dir)]:
            # bwrap makes missing parents 0700, which an unprivileged uid cannot traverse
            for parent in reversed(Path(root).parents):
                if str(parent) not in made:
                    made.add(str(parent))
                    args += ["--perms", "0755", "--dir", str(parent)]
            flag = "--bind" if root == str(self.runtime_dir) else "--ro-bind"
            args += [flag, root, root]
        args += ["--bind", str(self.work_dir), WORK_DIR]
        args += ["--ro-bind", str(self.inputs_dir), INPUTS_DIR]
        args += ["--chdir", WORK_DIR, "--clearenv"]
        for key, value in sandbox_env(self.env).items():
            args += ["--setenv", key, value]
        cfg = {"rlimits": self.limits.rlimits(), "uid": self.uid, "cwd": WORK_DIR}
        return [*args, sys.executable, "-s", "-c", LAUNCHER, json.dumps(cfg), *kernel_args]


def prepare_owned_dir(path: Path, uid: int) -> None:
    """Make ``path`` writable by the sandbox's uid (only needed when the host is root)."""
    path.mkdir(parents=True, exist_ok=True)
    if uid and os.geteuid() == 0:
        from sandboxes.local.fdtree import give_to

        give_to(path, uid)
