"""How the test cluster starts a Ray node: wait on its state, start it again after Ray's own
fixed start-up waits ran out, fail with the log when its processes died otherwise.

A small script stands in for `ray start --block` (the real one is used by
`test_ray_cluster.py`); it behaves as told by the file it is given, one line per start.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.services import NodeStartError, _stop, start_ray_node

FAKE_RAY_START = """
import signal, sys
from pathlib import Path
script = Path(sys.argv[1])
lines = script.read_text().splitlines()
script.write_text("\\n".join(lines[1:]))
what = lines[0]
if what == "started":
    print("Ray runtime started.", flush=True)
    signal.pause()  # --block: runs until its process group is signalled
elif what == "ray-timeout":
    print("Exception: The current node timed out during startup. This could happen "
          "because some of the raylet failed to startup or the GCS has become overloaded.")
    sys.exit(1)
else:
    print("ValueError: the port is taken")
    sys.exit(1)
"""


def fake_ray(tmp_path: Path, *starts: str) -> list[str]:
    program = tmp_path / "fake_ray_start.py"
    program.write_text(FAKE_RAY_START)
    script = tmp_path / "starts.txt"
    script.write_text("\n".join(starts))
    return [sys.executable, str(program), str(script)]


def test_a_node_that_hit_rays_own_start_up_wait_is_started_again(tmp_path: Path) -> None:
    args = fake_ray(tmp_path, "ray-timeout", "ray-timeout", "started")
    tries: list[int] = []

    def make_args() -> list[str]:
        tries.append(1)
        return args

    proc = start_ray_node(make_args, tmp_path, "head")
    try:
        assert proc.poll() is None and len(tries) == 3
        assert b"Ray runtime started" in (tmp_path / "head-3.log").read_bytes()
    finally:
        _stop(proc)
    assert proc.poll() is not None


def test_a_node_whose_processes_died_otherwise_fails_with_its_log(tmp_path: Path) -> None:
    args = fake_ray(tmp_path, "port-taken", "started")
    with pytest.raises(NodeStartError, match="the port is taken") as caught:
        start_ray_node(lambda: args, tmp_path, "worker")
    assert "worker" in str(caught.value) and "exited with 1" in str(caught.value)
