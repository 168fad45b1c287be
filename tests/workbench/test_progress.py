"""Progress bars (tqdm) for runs and `ask`: what they draw, where, and when they are chosen."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from workbench.core.errors import UserError
from workbench.core.events import Event, LogPrinter
from workbench.core.progress import ProgressBars, progress_listener


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _screen(stream: io.StringIO) -> str:
    return stream.getvalue().replace("\r", "\n")


def test_bars_count_stages_and_print_other_events_as_lines() -> None:
    out = io.StringIO()
    bars = ProgressBars(out)
    chunks = {"unit": "chunks"}
    bars(Event("stage_started", "index", "indexing 3 conversations", data=chunks))
    for done in (0, 64, 128, 150):
        bars(Event("progress", "index", "chunks indexed", done, 150, chunks))
    bars(Event("stage_done", "index", "150 chunks in 4.0s"))
    bars(Event("warning", "load", "skipped notes.bin: not a text file"))
    bars(Event("stage_started", "analyze", "3 tasks", total=3))
    for done in (1, 2, 3):
        bars(Event("task_done", "analyze", f"doc {done}", done=done, total=3))
    bars(Event("stage_started", "charts", "drawing charts in the sandbox"))
    bars(Event("stage_done", "charts", "3 charts"))
    bars(Event("run_done", "", "run written to runs/x"))
    screen = _screen(out)
    assert re.search(r"\[index\] indexing 3 conversations:  43%\|[^\n]*\| 64/150 chunks", screen)
    assert re.search(r"\[index\] indexing 3 conversations: 100%\|[^\n]*\| 150/150 chunks", screen)
    assert "[index] 150 chunks in 4.0s" in screen  # its done message, below the full bar
    assert "warning: skipped notes.bin: not a text file" in screen
    assert re.search(r"\[analyze\] 3 tasks: 100%\|[^\n]*\| 3/3 tasks", screen)
    assert re.search(r"\[charts\] 3 charts \[\d\d:\d\d\]", screen)  # no count: its time
    assert screen.rstrip().endswith("run written to runs/x")


@pytest.mark.timeout(60)
def test_a_bar_without_counts_keeps_its_clock_moving() -> None:
    """No event arrives while the sandbox draws: the bar is redrawn anyway (elapsed time)."""
    out = io.StringIO()
    bars = ProgressBars(out, refresh_s=0.02)
    bars(Event("stage_started", "charts", "drawing charts in the sandbox"))
    ticker = bars._ticker
    assert ticker is not None
    poll = threading.Event()
    while _screen(out).count("[charts] drawing charts") < 4:  # redraws without events
        poll.wait(0.02)
    bars(Event("stage_done", "charts", "3 charts"))
    ticker.join(timeout=30)  # the last bar closed: the redraw thread ends
    assert not ticker.is_alive()


def test_the_listener_follows_the_terminal_and_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WORKBENCH_UI", raising=False)
    monkeypatch.delenv("WORKBENCH_PROGRESS", raising=False)
    assert isinstance(progress_listener(io.StringIO()), LogPrinter)  # a pipe, a log file
    assert isinstance(progress_listener(Tty()), ProgressBars)  # a terminal
    monkeypatch.setenv("WORKBENCH_PROGRESS", "bars")
    assert isinstance(progress_listener(io.StringIO()), ProgressBars)
    monkeypatch.setenv("WORKBENCH_PROGRESS", "lines")
    assert isinstance(progress_listener(Tty()), LogPrinter)
    monkeypatch.setenv("WORKBENCH_PROGRESS", "auto")
    monkeypatch.setenv("WORKBENCH_UI", "widgets")  # a notebook that draws widgets
    in_notebook = progress_listener()
    assert isinstance(in_notebook, ProgressBars) and in_notebook.notebook  # tqdm.auto bars
    monkeypatch.setenv("WORKBENCH_PROGRESS", "spinner")
    with pytest.raises(UserError, match="bars"):
        progress_listener()


def test_lines_thin_index_progress_to_quarters() -> None:
    out = io.StringIO()
    lines = LogPrinter(out)
    for done in range(0, 101, 5):
        lines(Event("progress", "index", "chunks indexed", done, 100, {"unit": "chunks"}))
    printed = out.getvalue().splitlines()
    assert printed == [f"[index] {n}/100 chunks indexed" for n in (0, 25, 50, 75, 100)]


def test_cli_ask_draws_bars_on_stderr_and_keeps_json_on_stdout(tmp_path: Path) -> None:
    """A fresh project: the index is built (a bar counting chunks), then the answer."""
    corpus = tmp_path / "interviews"
    corpus.mkdir()
    for name, topic in (("ana", "battery"), ("bo", "price"), ("cy", "buttons")):
        turns = [
            f"Interviewer: What do you think about the {topic} of the remote?\n"
            f"{name.title()}: The {topic} matters a lot to me, number {i} of my worries.\n"
            for i in range(12)
        ]
        (corpus / f"{name}.txt").write_text("".join(turns), encoding="utf-8")
    args = ["ask", str(corpus), "-q", "What about the battery?", "--project", str(tmp_path / "p")]
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "WORKBENCH_PROGRESS": "bars"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)  # stdout is exactly the one JSON object
    assert answer["engine"] == "offline" and answer["question"]
    screen = proc.stderr.replace("\r", "\n")
    total = re.search(r"\[index\] indexing 3 [a-z]+:   0%\|[^\n]*\| 0/(\d+) chunks", screen)
    assert total, screen[-2000:]
    assert re.search(rf"100%\|[^\n]*\| {total.group(1)}/{total.group(1)} chunks", screen)
    assert re.search(r"\[answer\] \d+ sentences citing \d+ quotes", screen)
