"""Two runs at once on one project, and a disk that fills up during a run.

A second `analyze` of the same inputs must not attach to the run the first is writing:
it says which process holds it. A full disk is said in one line (no traceback), the run
is not left claiming to be "running", and once space is free the same command resumes it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
QUESTION = "What do they say about the remote?"


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "m1.txt").write_text(
        "Alice: The remote is far too big for a hand.\nBob: Make the remote smaller and yellow.\n"
        "Alice: Battery life of the remote worries me.\n"
    )
    (corpus / "m2.txt").write_text(
        "Carol: The price of the remote matters most.\nDan: The remote buttons are confusing.\n"
    )
    return corpus


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "workbench.cli", *args]


def test_a_second_run_does_not_attach_to_a_run_in_progress(tmp_path: Path) -> None:
    corpus, project = _corpus(tmp_path), tmp_path / "p"
    steer = tmp_path / "steer.txt"
    steer.write_text("/pause\n")  # the first run holds still at its first checkpoint
    first = subprocess.Popen(
        _cmd("analyze", str(corpus), "-q", QUESTION, "--project", str(project),
             "--steer-file", str(steer)),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert first.stderr is not None
    seen = []
    for line in first.stderr:  # wait on what it says, not on a clock
        seen.append(line)
        if "pause" in line:
            break
    else:
        pytest.fail("the first run never paused: " + "".join(seen))
    try:
        second = subprocess.run(
            _cmd("analyze", str(corpus), "-q", QUESTION, "--project", str(project)),
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert second.returncode == 1, second.stderr
        assert f"in use by pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
        with steer.open("a") as f:
            f.write("/resume\n")
        rest = first.stderr.read()
        assert first.wait(timeout=600) == 0, "".join(seen) + rest
    finally:
        if first.poll() is None:
            first.kill()
    (run,) = (project / ".workbench" / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and not manifest.get("error")
    # and a separate run may go at the same time: it waits for the index, not for the run
    third = subprocess.run(
        _cmd("analyze", str(corpus), "-q", QUESTION, "--project", str(project), "--new-run"),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert third.returncode == 0, third.stderr


FULL_SCRIPT = """
set -u
dd if=/dev/zero of="$FULL/filler" bs=1024 count=$((SIZE_KB - FREE_KB)) 2>/dev/null
"$PY" -m workbench.cli analyze "$CORPUS" -q "$Q" --project "$FULL/p" >"$OUT/a.out" 2>"$OUT/a.err"
echo $? >"$OUT/a.rc"
"$PY" -m workbench.cli runs --project "$FULL/p" --json >"$OUT/runs.json" 2>"$OUT/runs.err"
rm "$FULL/filler"
"$PY" -m workbench.cli analyze "$CORPUS" -q "$Q" --project "$FULL/p" >"$OUT/b.out" 2>"$OUT/b.err"
echo $? >"$OUT/b.rc"
cp -r "$FULL/p/.workbench/runs" "$OUT/runs"
"""


def test_a_full_disk_is_said_and_the_run_resumes(tmp_path: Path) -> None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("needs bubblewrap (apt-get install bubblewrap) for a small private tmpfs")
    corpus, full, out = _corpus(tmp_path), tmp_path / "full", tmp_path / "out"
    full.mkdir()
    out.mkdir()
    size_kb, free_kb = 32 * 1024, 160
    env = {"FULL": str(full), "OUT": str(out), "CORPUS": str(corpus), "Q": QUESTION,
           "PY": sys.executable, "SIZE_KB": str(size_kb), "FREE_KB": str(free_kb)}  # fmt: skip
    args = [bwrap, "--dev-bind", "/", "/", "--size", str(size_kb * 1024), "--tmpfs", str(full)]
    for k, v in env.items():
        args += ["--setenv", k, v]
    done = subprocess.run(
        [*args, "sh", "-c", FULL_SCRIPT], capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr
    a_err = (out / "a.err").read_text()
    assert (out / "a.rc").read_text().strip() == "1", a_err
    assert "Traceback" not in a_err and "disk is full" in a_err, a_err
    runs = json.loads((out / "runs.json").read_text())
    assert [r["status"] for r in runs] == ["interrupted"] or [r["status"] for r in runs] == [
        "failed"
    ], runs
    assert (out / "b.rc").read_text().strip() == "0", (out / "b.err").read_text()
    assert "resuming run " + runs[0]["run_id"] in (out / "b.err").read_text()
    (run,) = (out / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["attempts"] == 2
