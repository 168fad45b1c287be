"""A run killed with SIGKILL part-way and started again resumes from its finished tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import QUESTION


def _newest_run(project: Path) -> Path | None:
    runs = sorted((project / ".workbench" / "runs").glob("*/manifest.json"))
    return runs[-1].parent if runs else None


def test_kill_9_mid_run_then_resume_reruns_nothing_finished(analysed, small_corpus: Path) -> None:  # type: ignore[no-untyped-def]
    project, reference, _ = analysed
    before = {p.parent for p in (project.dir / ".workbench" / "runs").glob("*/manifest.json")}
    cmd = [
        sys.executable,
        "-m",
        "workbench.cli",
        "analyze",
        str(small_corpus),
        "-q",
        QUESTION,
        "--project",
        str(project.dir),
    ]
    # --new-run: the reference run with the same inputs is complete; start a fresh one
    proc = subprocess.Popen([*cmd, "--new-run"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run_dir = None
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            candidates = {
                p.parent for p in (project.dir / ".workbench" / "runs").glob("*/manifest.json")
            } - before
            if candidates:
                run_dir = candidates.pop()
                if len(list((run_dir / "tasks").glob("analyze-*.json"))) >= 2:
                    break
            time.sleep(0.02)  # polling the filesystem for observable progress
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert run_dir is not None
    finished = {
        p: (p.stat().st_mtime_ns, p.read_bytes())
        for p in (run_dir / "tasks").glob("analyze-*.json")
    }
    assert 2 <= len(finished) < 6
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"

    again = subprocess.run(
        [*cmd, "--json"], capture_output=True, text=True, timeout=900, check=False
    )
    assert again.returncode == 0, again.stderr
    assert "resuming run" in again.stderr
    summary = json.loads(again.stdout)
    assert summary["run_dir"] == str(run_dir)
    for path, (mtime, data) in finished.items():  # nothing that finished ran again
        assert path.stat().st_mtime_ns == mtime and path.read_bytes() == data
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["tasks"] == {"executed": 6 - len(finished), "reused": len(finished)}
    assert manifest["status"] == "complete" and manifest["attempts"] == 2
    assert [t["label"] for t in summary["themes"]] == [t.label for t in reference.themes]
    assert summary["findings"] == reference.summary()["findings"]
