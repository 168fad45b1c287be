"""Shareable run bundles: zip a run with its manifest and LLM cassette; open one offline.

    path = wb.make_run_bundle(run_dir)          # <run_dir>/bundle.zip
    opened = wb.open_bundle("bundle.zip")        # extracts, verifies hashes
    opened.rerender()                            # deck + reports rebuilt, no network, no model

The cassette holds the model responses this run used (copied from the project's
`cache.sqlite`, content-addressed), so a run made with a model can be replayed by
someone without a key; an offline run has none. Other runs' responses never go with it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from exports.bundle import OpenedBundle
from exports.bundle import make_bundle as _make_bundle
from exports.bundle import open_bundle as _open_bundle
from exports.errors import ExportError
from exports.spec import ReportSpec
from workbench.core.errors import UserError
from workbench.runs.store import CASSETTE_KEYS

__all__ = ["OpenedBundle", "make_run_bundle", "open_bundle"]


def _cassette_for(run_dir: Path, dest: Path) -> Path | None:
    """The run's own cassette: the responses it used (listed in `cassette.keys`), copied
    out of the project's `cache.sqlite` into `dest`. Never the whole cache: it holds
    other runs' requests, and with them their corpus text."""
    from subagents.models.cached import export_cassette

    cache = run_dir.parent.parent / "cache.sqlite"  # <project>/.workbench/cache.sqlite
    keys_file = run_dir / CASSETTE_KEYS
    if not cache.is_file() or not keys_file.is_file():
        return None
    keys = {k for k in keys_file.read_text(encoding="utf-8").split() if k}
    if not keys or not export_cassette(cache, keys, dest):
        return None
    return dest


def make_run_bundle(run_dir: str | Path, out_path: str | Path | None = None) -> Path:
    """Zip a finished run (its outputs, manifest, report spec and cassette) into one file."""
    run_dir = Path(run_dir)
    if not (run_dir / "manifest.json").is_file():
        raise UserError(f"{run_dir} is not a run directory (no manifest.json)")
    spec_path = run_dir / "report_spec.json"
    spec = (
        ReportSpec.model_validate_json(spec_path.read_text(encoding="utf-8"))
        if spec_path.is_file()
        else None
    )
    with tempfile.TemporaryDirectory(prefix="wb-cassette-") as tmp:
        try:
            return _make_bundle(
                run_dir,
                Path(out_path) if out_path is not None else None,
                spec=spec,
                cassette=_cassette_for(run_dir, Path(tmp) / "cassette.sqlite"),
                exclude=("bundle.zip", CASSETTE_KEYS),
            )
        except ExportError as e:
            raise UserError(str(e)) from e


def open_bundle(path: str | Path, dest: str | Path | None = None) -> OpenedBundle:
    """Open a bundle: extract it (to `dest` or a temp folder), verify every file's hash.

    The result shows the run in a notebook and can `rerender()` its exports offline.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"bundle not found: {p}")
    try:
        return _open_bundle(p, Path(dest) if dest is not None else None)
    except ExportError as e:
        raise UserError(f"{p}: {e}") from e
