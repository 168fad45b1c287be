"""Real servers on loopback for the tests: a two-node Ray cluster and a Chroma server.

Each is started as a child process group of its own (`start_new_session`), and stopped by
signalling that group: the test ends what it started and nothing else. Readiness is
waited for on observable state (nodes alive, a heartbeat), within a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent


class StartUpTimeoutError(RuntimeError):
    """A server gave up starting within its own hard-coded start-up time (busy machine)."""


# what Ray's node start-up logs say when its own fixed waits ran out (30 s for the
# raylet to register, ~30 s for the agents' port files): a machine too busy, not a bug
RAY_START_TIMEOUTS = (b"timed out during startup", b"Timed out waiting for file")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
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


@contextmanager
def ray_cluster(cpus_per_node: int = 1) -> Iterator[str]:
    """`ray start --head` and one worker node on loopback; yields the cluster's address.

    The nodes take 127.0.0.2 and 127.0.0.3 (Ray swaps 127.0.0.1 itself for the machine's
    network address, and no test may talk to that). Token authentication stays on, with
    a token made for this cluster alone.
    """
    import secrets

    import ray

    temp = Path(tempfile.mkdtemp(prefix="wbray"))  # short: Ray's socket paths are long
    port = free_port()
    address = f"127.0.0.2:{port}"
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    saved = {k: os.environ.get(k) for k in (*auth, "RAY_AUTH_TOKEN_PATH")}
    os.environ.update(auth)
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    _reset_ray_token_cache()
    common = ["--block", f"--num-cpus={cpus_per_node}", "--disable-usage-stats"]

    def ports() -> list[str]:
        # fixed ports for the node's agents: with port 0 the raylet waits for the agents
        # to write theirs into a file, which timed out on 2 busy cores
        return [
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
        ]

    ray_bin = str(BIN / "ray")
    procs = [
        _start(
            [ray_bin, "start", "--head", "--node-ip-address=127.0.0.2", f"--port={port}",
             f"--temp-dir={temp}", "--include-dashboard=false", *common, *ports()],
            temp / "head.log",
        )
    ]  # fmt: skip
    try:
        _wait_for_node(procs, temp, "head")
        procs.append(
            _start(
                [ray_bin, "start", f"--address={address}", "--node-ip-address=127.0.0.3",
                 *common, *ports()],
                temp / "worker.log",
            )
        )  # fmt: skip
        _wait_for_node(procs, temp, "worker")
        ray.init(address=address, _node_ip_address="127.0.0.2", log_to_driver=False)
        wait_for(lambda: sum(1 for n in ray.nodes() if n["Alive"]) == 2, "two Ray nodes")
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


def _reset_ray_token_cache() -> None:
    # the driver reads the auth settings once into its config and token cache
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:  # pragma: no cover - another Ray version
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _wait_for_node(procs: list[subprocess.Popen[bytes]], temp: Path, which: str) -> None:
    log = temp / f"{which}.log"
    try:
        wait_for(lambda: _started(procs[-1], log), f"the Ray {which} node", 240)
    except (TimeoutError, RuntimeError) as exc:
        logs = [log, *temp.glob("session_*/logs/raylet*.out")]
        said = b"".join(p.read_bytes() for p in logs if p.is_file())
        if any(marker in said for marker in RAY_START_TIMEOUTS):
            raise StartUpTimeoutError(
                f"Ray's {which} node hit Ray's own start-up time limit ({exc}); "
                f"the machine is too busy (load average {os.getloadavg()[0]:.1f})"
            ) from exc
        raise


def _started(proc: subprocess.Popen[bytes], log: Path) -> bool:
    """`ray start --block` says so once its node has registered with the cluster."""
    if proc.poll() is not None:
        raise RuntimeError(f"ray start exited with {proc.returncode}; see {log}")
    return b"Ray runtime started" in log.read_bytes()


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
