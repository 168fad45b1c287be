"""Real servers on loopback for the tests: a two-node Ray cluster and a Chroma server.

Each is started as a child process group of its own (`start_new_session`), and stopped by
signalling that group: the test ends what it started and nothing else. Readiness is
waited for on observable state (a node registered and alive, a heartbeat). A Ray node has
no start-up deadline of ours: on a busy machine it may take minutes, and the test's own
bound (pytest-timeout) is the limit. A start fails at once, with the node's log, only
when its processes died for a reason other than Ray's own fixed start-up waits.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

BIN = Path(sys.executable).parent


class NodeStartError(RuntimeError):
    """A Ray node's processes died while starting, for a reason other than a busy machine."""


# what Ray's node start-up logs say when one of its own fixed waits ran out: `ray start`
# gives its raylet a hard-coded 30 s to register with the GCS, the raylet waits for its
# agents' port files. On a loaded machine that is slowness, not a failure: start again.
RAY_START_TIMEOUTS = (b"timed out during startup", b"Timed out waiting for file")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float | None = 120.0) -> None:
    """Poll `check` until it holds; `timeout=None` waits as long as the test may run."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not check():
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.2)  # polling an external server's state; there is no event to wait on


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    # generous start-up timeouts: two nodes start on the same 2 cores as everything else
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_agent_register_timeout_ms": "300000",
        "RAY_raylet_start_wait_time_s": "300",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group started with `proc`, SIGKILL to what is left after 20 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _group_alive(proc.pid):
            break
        os.killpg(proc.pid, sig)
        try:
            wait_for(lambda: proc.poll() is not None and not _group_alive(proc.pid), "stop", 20)
        except TimeoutError:
            continue
    proc.poll()


def start_ray_node(
    make_args: Callable[[], list[str]],
    log_dir: Path,
    which: str,
    *,
    ray_logs: Callable[[], Sequence[Path]] = lambda: (),
) -> subprocess.Popen[bytes]:
    """Start a `ray start --block` node; return its process once the node has registered.

    Registered is what `ray start` says ("Ray runtime started") after the GCS has the node.
    There is no deadline here: a busy machine only makes it slower, and the test's timeout
    bounds the whole. When one of Ray's own fixed start-up waits runs out (its log says so)
    the node's process group is stopped and the node started again, with fresh ports;
    when the processes die for any other reason, `NodeStartError` says why, with the log.
    `make_args` gives the command for each try; `ray_logs` lists Ray's session logs.
    """
    attempt = 0
    while True:
        attempt += 1
        log = log_dir / f"{which}-{attempt}.log"
        began = time.time()
        proc = _start(make_args(), log)
        try:
            wait_for(partial(_started, proc, log), f"the Ray {which} node", timeout=None)
            return proc
        except _ExitedError:
            _stop(proc)
            fresh = [p for p in ray_logs() if p.is_file() and p.stat().st_mtime >= began]
            said = b"".join(p.read_bytes() for p in (log, *fresh) if p.is_file())
            if any(marker in said for marker in RAY_START_TIMEOUTS):
                continue  # Ray's own fixed wait ran out on a busy machine: try again
            tail = said.decode("utf-8", "replace").strip().splitlines()[-15:]
            raise NodeStartError(
                f"the Ray {which} node's processes died while starting (ray start exited "
                f"with {proc.returncode}, try {attempt}); its log ends:\n" + "\n".join(tail)
            ) from None


class _ExitedError(Exception):
    pass


def _started(proc: subprocess.Popen[bytes], log: Path) -> bool:
    """`ray start --block` says so once its node has registered with the cluster."""
    if proc.poll() is not None:
        raise _ExitedError
    return b"Ray runtime started" in log.read_bytes()


@contextmanager
def ray_cluster(cpus_per_node: int = 1) -> Iterator[str]:
    """`ray start --head` and one worker node on loopback; yields the cluster's address.

    The nodes take 127.0.0.2 and 127.0.0.3 (Ray swaps 127.0.0.1 itself for the machine's
    network address, and no test may talk to that). Token authentication stays on, with
    a token made for this cluster alone. Ready means: both nodes registered and the
    driver sees two alive nodes (`ray.nodes()`); see `start_ray_node` for the waits.
    """
    import secrets

    import ray

    temp = Path(tempfile.mkdtemp(prefix="wbray"))  # short: Ray's socket paths are long
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    saved = {k: os.environ.get(k) for k in (*auth, "RAY_AUTH_TOKEN_PATH")}
    os.environ.update(auth)
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    _reset_ray_token_cache()
    common = ["--block", f"--num-cpus={cpus_per_node}", "--disable-usage-stats"]
    ray_bin = str(BIN / "ray")
    address = ""

    def ports() -> list[str]:
        # fixed ports for the node's agents: with port 0 the raylet waits for the agents
        # to write theirs into a file, which timed out on 2 busy cores
        return [
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
        ]

    def head() -> list[str]:
        nonlocal address
        address = f"127.0.0.2:{free_port()}"
        return [ray_bin, "start", "--head", "--node-ip-address=127.0.0.2",
                f"--port={address.rsplit(':', 1)[1]}", f"--temp-dir={temp}",
                "--include-dashboard=false", *common, *ports()]  # fmt: skip

    def worker() -> list[str]:
        return [ray_bin, "start", f"--address={address}", "--node-ip-address=127.0.0.3",
                *common, *ports()]  # fmt: skip

    def session_logs() -> list[Path]:
        return list(temp.glob("session_*/logs/raylet*.out"))

    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start_ray_node(head, temp, "head", ray_logs=session_logs))
        procs.append(start_ray_node(worker, temp, "worker", ray_logs=session_logs))
        ray.init(address=address, _node_ip_address="127.0.0.2", log_to_driver=False)

        def two_alive() -> bool:
            for proc, which in zip(procs, ("head", "worker"), strict=True):
                if proc.poll() is not None:
                    raise NodeStartError(f"the Ray {which} node exited with {proc.returncode}")
            return sum(1 for n in ray.nodes() if n["Alive"]) == 2

        wait_for(two_alive, "two alive Ray nodes", timeout=None)
        yield address
    finally:
        ray.shutdown()
        for proc in reversed(procs):
            _stop(proc)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reset_ray_token_cache()
        shutil.rmtree(temp, ignore_errors=True)  # what went wrong was said with its log


def _reset_ray_token_cache() -> None:
    # the driver reads the auth settings once into its config and token cache
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:  # pragma: no cover - another Ray version
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


@contextmanager
def chroma_server(path: Path) -> Iterator[tuple[str, int]]:
    """`chroma run` on 127.0.0.1 with its data in `path`; yields (host, port)."""
    import chromadb
    from chromadb.config import Settings

    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    proc = _start(
        [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1",
         "--port", str(port)],
        path.parent / "chroma-server.log",
    )  # fmt: skip

    def alive() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma run exited with {proc.returncode}")
        try:
            client = chromadb.HttpClient(
                host="127.0.0.1", port=port, settings=Settings(anonymized_telemetry=False)
            )
            client.heartbeat()
            return True
        except Exception:
            return False

    try:
        wait_for(alive, "the Chroma server", timeout=60)
        yield "127.0.0.1", port
    finally:
        _stop(proc)
