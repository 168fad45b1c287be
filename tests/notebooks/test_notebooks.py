"""Every notebook in notebooks/, executed for real by papermill on a real kernel.

Under papermill no frontend draws widgets, so the run's panel degrades to log lines;
the tests read those lines (and every other output) back from the executed notebook.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
import pytest

pytestmark = pytest.mark.slow


def execute(repo_root: Path, tmp_path: Path, name: str, **parameters: Any) -> tuple[Any, str]:
    out = tmp_path / f"{name}.out.ipynb"
    pm.execute_notebook(
        str(repo_root / "notebooks" / f"{name}.ipynb"),
        str(out),
        parameters=parameters,
        cwd=str(repo_root / "notebooks"),
        kernel_name="python3",
        progress_bar=False,
    )
    nb = nbformat.read(str(out), as_version=4)
    text = "\n".join(
        o.get("text", "")
        if o.get("output_type") == "stream"
        else str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    return nb, text


@pytest.fixture(autouse=True)
def _no_frontend(monkeypatch: pytest.MonkeyPatch) -> None:
    # a test run started from a JupyterLab terminal must still see "no frontend"
    for var in ("JPY_SESSION_NAME", "VSCODE_PID", "WORKBENCH_UI"):
        monkeypatch.delenv(var, raising=False)


def test_every_notebook_is_tested(repo_root: Path) -> None:
    names = {p.stem for p in (repo_root / "notebooks").glob("*.ipynb")}
    assert names == {"quickstart", "tickets_triage", "repo_qa", "batch"}
    for name in names:
        nb = nbformat.read(str(repo_root / "notebooks" / f"{name}.ipynb"), as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name} needs exactly one papermill parameters cell"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), name


def test_quickstart(repo_root: Path, tmp_path: Path, meetings: Path, nb_project: Path) -> None:
    nb, text = execute(
        repo_root, tmp_path, "quickstart", corpus_path=str(meetings), project_dir=str(nb_project)
    )
    assert "progress follows as log lines" in text  # the panel degraded to log lines
    assert "[analyze] 3/3" in text
    assert "of 3 documents" in text
    assert "Produced by the offline engine" in text
    assert "Finding " in text and "confidence" in text  # the text form of a finding
    assert "slides)" in text and "Executive summary" in text  # the deck, as slide titles
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the charts were not displayed"
    html = [
        o["data"]["text/html"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "text/html" in o.get("data", {})
    ]
    assert any("wb-repr" in h and "of 3 documents" in h for h in html)  # rich theme card


def test_batch_with_steering_file_and_review_policy(
    repo_root: Path, tmp_path: Path, meetings: Path, nb_project: Path
) -> None:
    steering = tmp_path / "steer.txt"
    steering.write_text("focus on what worries the teams\n", encoding="utf-8")
    out = tmp_path / "batch-out"
    _, text = execute(
        repo_root,
        tmp_path,
        "batch",
        corpus_path=str(meetings),
        project_dir=str(nb_project),
        out_dir=str(out),
        review_policy="reject",
        review_threshold=0.99,
        steering_file=str(steering),
        resume=False,
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert (out / "deck.pptx").stat().st_size > 10_000
    assert (out / "report.html").exists()
    assert "[analyze]" in text and "review queue:" in text
    run_dir = Path(summary["run_dir"])
    steered = [json.loads(line) for line in (run_dir / "steering.jsonl").read_text().splitlines()]
    assert any(
        r.get("text") == "focus on what worries the teams" and r.get("source") == "file"
        for r in steered
    )
    reviews = [json.loads(line) for line in (run_dir / "reviews.jsonl").read_text().splitlines()]
    assert reviews and all(r["by"] == "policy:reject" for r in reviews)

    # the deck preview: one thumbnail per slide, drawn by LibreOffice
    from workbench.ui import Deck

    deck = Deck(out / "deck.pptx")
    titles = deck.slide_titles()
    html = deck._repr_html_()
    assert html.count("data:image/png;base64,") == len(titles) > 3
    assert "Executive summary" in html and f"{len(titles)} slides" in repr(deck)


def test_tickets_triage(repo_root: Path, tmp_path: Path, nb_project: Path) -> None:
    # the whole bundled sample: two tickets per project and category are "labelled"
    _, text = execute(repo_root, tmp_path, "tickets_triage", project_dir=str(nb_project / "triage"))
    assert "33 tickets; the team labelled 18" in text
    assert "[classify] 33 tickets labelled" in text
    counts = re.search(r"categories: (\{.*\})", text)
    assert counts is not None
    per_category = ast.literal_eval(counts.group(1))
    assert set(per_category) == {"Intrinsic", "Extrinsic", "Not a Bug"}
    assert sum(per_category.values()) == 33
    queued = re.search(r"(\d+) of 33 tickets went to review", text)
    assert queued is not None and int(queued.group(1)) > 0
    assert "by policy:accept" in text  # the queue, decided by the policy under papermill
    assert "agreement with the held-back labels:" in text and "of 15 tickets" in text
    assert "category_prevalence.png" in text
    assert "Produced by the offline engine" in text


def test_repo_qa(repo_root: Path, tmp_path: Path, nb_project: Path) -> None:
    _, text = execute(
        repo_root,
        tmp_path,
        "repo_qa",
        project_dir=str(nb_project),
        questions=["How are multi-line strings parsed?"],
    )
    assert "Q: How are multi-line strings parsed?" in text
    assert "_parser.py" in text  # answers cite the package's files
    assert "of 4 files" in text or "of 3 files" in text
    assert "Produced by the offline engine" in text
