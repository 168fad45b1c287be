"""A shared bundle carries its own run's model responses, never the project's whole
cache (which holds other runs' requests, and with them their corpus text)."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import pytest

from workbench.core.settings import ModelSettings, Settings

from .modelish import ModelLike, function_model

pytestmark = pytest.mark.slow
LINE = "{who}: {what} and that is what I keep telling everyone in every single meeting we have.\n"


def _corpus(root: Path, name: str, secret: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for i, who in enumerate(("Ana", "Bo")):
        (folder / f"m{i}.txt").write_text(
            LINE.format(who=who, what=f"The remote is too big, says {secret}")
            + LINE.format(who="Cy", what=f"Battery life worries {secret} most")
        )
    return folder


def test_a_bundle_carries_only_its_own_run_cassette(tmp_path: Path) -> None:
    import workbench as wb

    settings = Settings(models=ModelSettings(cache=True, synthetic_queries=False))
    project = wb.Project(tmp_path / "p", settings=settings, model=function_model(ModelLike()))
    other = _corpus(tmp_path, "other", "ZEBRA-PRIVATE-ALPHA")
    mine = _corpus(tmp_path, "mine", "OKAPI-SHARED-BETA")
    q = "What do they want from the remote?"
    project.analyze(other, q, engine="model", on_event=lambda e: None)
    run = project.analyze(mine, q, engine="model", on_event=lambda e: None)
    assert (project.wb_dir / "cache.sqlite").is_file()
    with zipfile.ZipFile(run.dir / "bundle.zip") as zf:
        assert "cassette.sqlite" in zf.namelist()
        blob = zf.read("cassette.sqlite")
        names = zf.namelist()
    assert b"ZEBRA-PRIVATE-ALPHA" not in b"".join(
        zipfile.ZipFile(run.dir / "bundle.zip").read(n) for n in names
    )
    cassette = tmp_path / "cassette.sqlite"
    cassette.write_bytes(blob)
    with sqlite3.connect(cassette) as db:
        requests = [r for (r,) in db.execute("select request from responses")]
    assert requests and all("ZEBRA" not in r for r in requests)
    assert any("OKAPI-SHARED-BETA" in r for r in requests)
