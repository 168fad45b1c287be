"""Triage runs on the parts it is handed (`ProjectContext`), not on a `Project` it looks up."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from workbench.core.settings import Settings, TriageSettings

pytestmark = pytest.mark.slow


def test_triage_uses_the_settings_and_folders_of_the_context_it_is_given(
    triage_files: dict[str, Path], tmp_path: Path
) -> None:
    import workbench as wb
    from workbench.triage.api import triage

    project = wb.Project(tmp_path / "project")
    other = tmp_path / "elsewhere" / ".workbench"
    settings = Settings(triage=TriageSettings(review_threshold=0.91))
    parts = dataclasses.replace(project.context(), wb_dir=other, settings=settings)

    run = triage(parts, triage_files["tickets"], triage_files["labelled"], label_column="label")

    assert run.status == "complete"
    assert run.dir.parent == other / "runs"  # the context's runs folder ...
    assert not project.runs_dir.exists()  # ... and never the project's
    assert run.manifest["review_threshold"] == 0.91  # the context's settings
    assert (other / "triage" / "embeddings.sqlite").exists()  # the context's cache
    # the same inputs again resume nothing (the run is complete): a second run beside it
    again = triage(parts, triage_files["tickets"], triage_files["labelled"], label_column="label")
    assert again.dir != run.dir and again.dir.parent == other / "runs"
