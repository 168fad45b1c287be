"""The run manifest has one typed owner (`RunManifest`, written by `RunStore.update_manifest`),
and a run folder whose manifest the previous code wrote still loads and resumes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import workbench as wb
from workbench.runs.manifest import RunManifest
from workbench.runs.store import RunStore

from .conftest import QUESTION

# the keys the previous code wrote when a run started (an untyped dict built in
# project.py), before the manifest had a model: no `attempts`, `other_language`,
# `speaker_roles`, `resumed_at`, `error` or `partial`, plus a key no model names
OLD_KEYS = (
    "run_id",
    "status",
    "started_at",
    "recipe",
    "question",
    "engine",
    "engine_note",
    "models",
    "input_key",
    "corpus",
    "documents",
    "skipped",
    "warnings",
    "settings",
    "versions",
    "cost_usd",
    "updated_at",
)


def _old_shape(manifest: dict[str, Any]) -> dict[str, Any]:
    old = {k: manifest[k] for k in OLD_KEYS if k in manifest}
    old["status"] = "running"  # stopped before it finished
    old["legacy_note"] = "written by an earlier version"
    return old


def test_an_old_manifest_loads_and_its_run_resumes(
    analysed: Any, tmp_path: Path, small_corpus: Path
) -> None:
    project, reference, _ = analysed
    copy = tmp_path / "project"
    shutil.copytree(project.dir, copy)
    run_dir = copy / ".workbench" / "runs" / reference.id
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    (run_dir / "manifest.json").write_text(json.dumps(_old_shape(manifest)), encoding="utf-8")

    old = wb.Run(run_dir)
    assert old.record.attempts == 1 and old.record.error is None  # the defaults
    assert old.record.question == QUESTION and old.status in ("running", "interrupted")
    assert old.summary()["findings"] is None  # not yet recorded, said as such

    runs = copy / ".workbench" / "runs"
    before = sorted(p.name for p in runs.iterdir())  # other tests may have added runs
    again = wb.Project(copy).analyze(small_corpus, QUESTION, on_event=lambda ev: None)
    assert again.id == reference.id  # resumed, not started afresh
    assert sorted(p.name for p in runs.iterdir()) == before
    rec = again.record
    assert rec.status == "complete" and rec.attempts == 2 and rec.resumed_at
    assert rec.findings == reference.record.findings and rec.themes == reference.record.themes
    assert again.manifest["legacy_note"] == "written by an earlier version"  # kept as it was


def test_the_writer_refuses_a_wrong_type_and_keeps_the_file(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, "typed")
    store.update_manifest(run_id=store.run_id, status="running", attempts=1)
    before = store.manifest_path.read_text(encoding="utf-8")
    with pytest.raises(ValidationError):
        store.update_manifest(attempts="several")
    assert store.manifest_path.read_text(encoding="utf-8") == before
    assert store.manifest() == RunManifest.model_validate(json.loads(before))
    # a name the manifest does not declare (a writer left behind by a rename) is refused too
    with pytest.raises(ValueError, match="not fields of the run manifest: \\['finished'\\]"):
        store.update_manifest(finished="yes")
    assert store.manifest_path.read_text(encoding="utf-8") == before


def test_a_corrupt_manifest_is_a_user_error(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, "bad")
    store.manifest_path.write_text('{"attempts": "x"', encoding="utf-8")
    with pytest.raises(wb.UserError, match="corrupt manifest"):
        store.manifest()


def test_the_resumable_run_is_the_newest_unfinished_one_with_the_same_inputs(
    tmp_path: Path,
) -> None:
    from workbench.runs.store import find_resumable

    runs = tmp_path / "runs"
    assert find_resumable(runs, "k") is None  # no runs folder yet
    for name, key, status in [
        ("20260101-000000-a", "k", "failed"),
        ("20260101-000001-b", "k", "interrupted"),
        ("20260101-000002-c", "k", "complete"),
        ("20260101-000003-d", "other", "running"),
    ]:
        store = RunStore(runs / name)
        store.dir.mkdir(parents=True)
        store.update_manifest(run_id=name, status=status, input_key=key)
    (runs / "20260101-000004-e").mkdir()
    (runs / "20260101-000004-e" / "manifest.json").write_text("{not json")  # passed over
    found = find_resumable(runs, "k")
    assert found is not None and found.dir.name == "20260101-000001-b"
    parts = wb.Project(tmp_path / "p").context()
    assert parts.runs_dir == tmp_path / "p" / ".workbench" / "runs"
    assert parts.resumable("k") is None  # its own runs folder, which has none
