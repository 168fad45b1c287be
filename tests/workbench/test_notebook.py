"""The quickstart notebook, executed for real by papermill on a real kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm


def test_quickstart_notebook_runs(
    analysed, small_corpus: Path, repo_root: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    project, _, _ = analysed
    out = tmp_path / "quickstart.out.ipynb"
    pm.execute_notebook(
        str(repo_root / "notebooks" / "quickstart.ipynb"),
        str(out),
        parameters={"corpus_path": str(small_corpus), "project_dir": str(project.dir)},
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
    assert "of 6 documents" in text  # themes with their prevalence
    assert "Produced by the offline engine" in text
    assert "[analyze]" in text  # progress was shown
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert images, "the charts were not displayed"
