"""kill -9 in the middle of a model-engine run, then resume: nothing finished runs again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import QUESTION
from .model_script import SETTINGS, make_model


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(
    project_dir: Path, corpus3: Path, repo_root: Path, tmp_path: Path
) -> None:
    import workbench as wb

    reference = wb.Project(project_dir, settings=SETTINGS, model=make_model()).analyze(  # type: ignore[arg-type]
        corpus3, QUESTION, engine="model", on_event=lambda e: None
    )
    runs = project_dir / ".workbench" / "runs"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def script(log: Path, mode: str) -> list[str]:
        return [sys.executable, "-m", "tests.orchestrator.model_script", str(project_dir), str(corpus3), str(log), mode]  # fmt: skip

    log1, log2 = tmp_path / "calls1.log", tmp_path / "calls2.log"
    proc = subprocess.Popen(script(log1, "new"), cwd=repo_root, env=env, stderr=subprocess.DEVNULL)
    run_dir = None
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            fresh = [d for d in runs.iterdir() if d != reference.dir]
            if fresh and list((fresh[0] / "tasks").glob("analyze-*.json")):
                run_dir = fresh[0]
                break
            time.sleep(0.02)  # polling the filesystem for observable progress
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert run_dir is not None
    finished = {p.name: p.read_bytes() for p in (run_dir / "tasks").glob("analyze-*.json")}
    done_docs = {json.loads(b)["doc_id"] for b in finished.values()}
    assert 1 <= len(finished) < 3

    again = subprocess.run(script(log2, "resume"), cwd=repo_root, env=env, capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    second_calls = log2.read_text().split()
    assert not set(second_calls) & done_docs  # no finished task ran again
    assert len(second_calls) == 3 - len(finished)
    for name, data in finished.items():
        assert (run_dir / "tasks" / name).read_bytes() == data
    resumed = wb.Run(run_dir)
    assert resumed.status == "complete" and resumed.manifest["attempts"] == 2
    assert resumed.manifest["tasks"] == {"executed": 3 - len(finished), "reused": len(finished)}
    assert [f.model_dump() for f in resumed.findings] == [
        f.model_dump() for f in reference.findings
    ]
    assert [t.label for t in resumed.themes] == [t.label for t in reference.themes]
