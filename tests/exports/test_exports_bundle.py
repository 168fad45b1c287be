"""The run bundle: zip with manifest + cassette, verified extraction, offline re-rendering."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from exports.bundle import CASSETTE_NAME, MANIFEST_NAME, SPEC_NAME, make_bundle, open_bundle
from exports.checks import assert_exports_ok
from exports.errors import BundleError

from .exports_fixtures import REPO, AmiRun


@pytest.fixture
def run_dir(ami: AmiRun, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / ami.spec.run_id
    shutil.copytree(ami.run_dir / "charts", run / "charts")
    (run / "manifest.json").write_text(json.dumps({"run_id": ami.spec.run_id, "engine": "offline"}))
    (run / "findings.jsonl").write_text("{}\n")
    return run


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    path = tmp_path / "cache.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("create table responses (request_hash text primary key, response text)")
        db.execute("insert into responses values ('abc', '{\"content\": []}')")
    return path


def test_bundle_holds_run_manifest_spec_and_cassette(
    ami: AmiRun, run_dir: Path, cassette: Path
) -> None:
    out = make_bundle(run_dir, spec=ami.spec, cassette=cassette)
    assert out == run_dir / "bundle.zip"
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read(MANIFEST_NAME))
    assert {MANIFEST_NAME, SPEC_NAME, CASSETTE_NAME, "manifest.json", "findings.jsonl"} <= names
    assert "charts/theme_prevalence.png" in names and "charts/theme_prevalence.py" in names
    assert "bundle.zip" not in names
    assert manifest["run_id"] == ami.spec.run_id and manifest["engine_note"] == ami.spec.engine_note
    assert set(manifest["files"]) == names - {MANIFEST_NAME}
    # deterministic: the same run gives the same bytes
    again = make_bundle(run_dir, run_dir.parent / "again.zip", spec=ami.spec, cassette=cassette)
    assert again.read_bytes() == out.read_bytes()


def test_open_bundle_verifies_and_rerenders_offline(
    ami: AmiRun, run_dir: Path, cassette: Path, tmp_path: Path
) -> None:
    bundle = make_bundle(run_dir, tmp_path / "shared.zip", spec=ami.spec, cassette=cassette)
    opened = open_bundle(bundle, tmp_path / "opened")
    assert opened.spec == ami.spec and opened.run_id == ami.spec.run_id
    assert opened.cassette is not None
    with sqlite3.connect(opened.cassette) as db:
        assert db.execute("select count(*) from responses").fetchone() == (1,)
    assert ami.spec.engine_note in opened._repr_html_()
    # re-render in a process with no network at all (bubblewrap, own network namespace)
    code = (
        "import sys; from pathlib import Path; from exports.bundle import open_bundle; "
        "b = open_bundle(Path(sys.argv[1]), Path(sys.argv[2])); "
        "print(sorted(str(p) for p in b.rerender().values()))"
    )
    cmd = [sys.executable, "-c", code, str(bundle), str(tmp_path / "offline")]
    bwrap = shutil.which("bwrap")
    assert bwrap, "bubblewrap (Debian package bubblewrap) is needed for the offline check"
    proc = subprocess.run(
        [
            bwrap,
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--bind",
            str(tmp_path),
            str(tmp_path),
            "--unshare-net",
            "--die-with-parent",
            "--setenv",
            "PYTHONPATH",
            str(REPO),
            "--setenv",
            "MPLCONFIGDIR",
            str(tmp_path / "mpl"),
            *cmd,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "offline" / "rerendered"
    assert (out / "deck.pptx").is_file() and (out / "report.md").is_file()
    assert_exports_ok(ami.spec, ami.sources, deck=out / "deck.pptx", html=out / "report.html")


def test_a_changed_or_unsafe_bundle_is_refused(ami: AmiRun, run_dir: Path, tmp_path: Path) -> None:
    bundle = make_bundle(run_dir, tmp_path / "b.zip", spec=ami.spec)
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(changed, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, b"{}\n{}\n" if info.filename == "findings.jsonl" else data)
    with pytest.raises(BundleError, match=r"changed \['findings.jsonl'\]"):
        open_bundle(changed, tmp_path / "x")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr(MANIFEST_NAME, json.dumps({"format": 1, "files": {}}))
        zf.writestr("../../outside.txt", "boo")
    with pytest.raises(BundleError, match="outside the bundle"):
        open_bundle(evil, tmp_path / "y")
    assert not (tmp_path.parent / "outside.txt").exists()
    junk = tmp_path / "junk.zip"
    junk.write_text("not a zip")
    with pytest.raises(BundleError, match="not a zip"):
        open_bundle(junk)
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("a.txt", "a")
    with pytest.raises(BundleError, match="not a workbench bundle"):
        open_bundle(plain, tmp_path / "z")
