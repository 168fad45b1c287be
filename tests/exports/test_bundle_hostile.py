"""Hostile bundles: every hash verifies, yet the bundle tries to read the host, fill the
disk, or crash the reader. Each must be refused with one BundleError, nothing left behind."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from exports.bundle import MANIFEST_NAME, SPEC_NAME, make_bundle, open_bundle
from exports.deck import build_deck
from exports.errors import BundleError, ExportInputError
from exports.report import write_html, write_markdown

from .exports_fixtures import AmiRun

SECRET = "TOPSECRET-HOST-FILE"


@pytest.fixture
def good(ami: AmiRun, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / ami.spec.run_id
    shutil.copytree(ami.run_dir / "charts", run / "charts")
    (run / "manifest.json").write_text(json.dumps({"run_id": ami.spec.run_id}))
    return make_bundle(run, tmp_path / "good.zip", spec=ami.spec)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "host" / "secret.png"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


def _entries(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _repack(
    entries: dict[str, bytes], out: Path, manifest_edit: dict[str, object] | None = None
) -> Path:
    """A bundle whose manifest lists every entry with its true hash (so it all verifies)."""
    manifest = json.loads(entries[MANIFEST_NAME])
    manifest["files"] = {
        n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
        for n, b in entries.items()
        if n != MANIFEST_NAME
    }
    manifest.update(manifest_edit or {})
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(MANIFEST_NAME, json.dumps(manifest))
        for n, b in entries.items():
            if n != MANIFEST_NAME:
                zf.writestr(n, b)
    return out


def _left(dest: Path) -> list[Path]:
    return sorted(dest.rglob("*")) if dest.exists() else []


def test_spec_paths_naming_host_files_are_refused(good: Path, secret: Path, tmp_path: Path) -> None:
    entries = _entries(good)
    spec = json.loads(entries[SPEC_NAME])
    spec["charts"][0]["png_path"] = str(secret)  # absolute host path
    spec["themes"][0]["quotes"][0]["media_path"] = "../" * 12 + str(secret).lstrip("/")
    entries[SPEC_NAME] = json.dumps(spec).encode()
    bad = _repack(entries, tmp_path / "bad.zip")
    dest = tmp_path / "opened"
    with pytest.raises(BundleError, match="outside the bundle") as err:
        open_bundle(bad, dest)
    assert SECRET not in str(err.value)
    assert _left(dest) == []


def test_renderers_never_read_outside_the_run_dir(
    ami: AmiRun, secret: Path, tmp_path: Path
) -> None:
    spec = ami.spec.model_copy(deep=True)
    spec.charts[0].png_path = str(secret)
    for render in (build_deck, write_html):
        with pytest.raises(ExportInputError, match="outside"):
            render(spec, ami.run_dir, tmp_path / "out" / "x")
    spec = ami.spec.model_copy(deep=True)
    spec.themes[0].quotes[0].media_path = "../" * 12 + str(secret).lstrip("/")
    with pytest.raises(ExportInputError, match="outside"):
        write_html(spec, ami.run_dir, tmp_path / "out" / "r.html")
    md = write_markdown(spec, ami.run_dir, tmp_path / "out" / "r.md").read_text()
    assert "](../" not in md and "not linked" in md  # named as text at most, never linked


@pytest.mark.parametrize("field", ["spec", "cassette", "run_manifest"])
def test_manifest_naming_host_files_is_refused(
    good: Path, secret: Path, tmp_path: Path, field: str
) -> None:
    bad = _repack(_entries(good), tmp_path / "bad.zip", {field: str(secret)})
    dest = tmp_path / "opened"
    with pytest.raises(BundleError) as err:
        open_bundle(bad, dest)
    assert SECRET not in str(err.value) and "outside the bundle" in str(err.value)
    assert _left(dest) == []


def test_a_zip_bomb_is_refused_before_it_is_written(good: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    shutil.copy(good, bomb)
    with zipfile.ZipFile(bomb, "a") as zf:
        info = zipfile.ZipInfo("charts/aaa-bomb.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as dst:
            block = bytes(1 << 20)
            for _ in range(1024):  # 1 GiB of zeros, about 1 MB packed
                dst.write(block)
    assert bomb.stat().st_size < 8 * 2**20
    dest = tmp_path / "opened"
    with pytest.raises(BundleError):
        open_bundle(bomb, dest)
    assert _left(dest) == []


def test_a_refusal_leaves_nothing_behind(good: Path, tmp_path: Path) -> None:
    entries = _entries(good)
    with zipfile.ZipFile(tmp_path / "late.zip", "w") as zf:
        for n, b in entries.items():
            zf.writestr(n, b)
        zf.writestr("zz/../../../outside.txt", "boo")  # the last entry escapes
    dest = tmp_path / "opened"
    with pytest.raises(BundleError, match="outside the bundle"):
        open_bundle(tmp_path / "late.zip", dest)
    assert _left(dest) == []
    assert not (tmp_path / "outside.txt").exists()


@pytest.mark.parametrize("name", ["", ".", "./", "charts/./"])
def test_empty_and_dot_entry_names_are_a_bundle_error(
    good: Path, tmp_path: Path, name: str
) -> None:
    odd = tmp_path / "odd.zip"
    shutil.copy(good, odd)
    with zipfile.ZipFile(odd, "a") as zf:
        zf.writestr(zipfile.ZipInfo(name), b"x")
    with pytest.raises(BundleError):
        open_bundle(odd, tmp_path / "opened")


def test_too_many_entries_are_refused(good: Path, tmp_path: Path) -> None:
    many = tmp_path / "many.zip"
    shutil.copy(good, many)
    with zipfile.ZipFile(many, "a") as zf:
        for i in range(20_001):
            zf.writestr(f"n/{i}", b"")
    with pytest.raises(BundleError, match="entries"):
        open_bundle(many, tmp_path / "opened")


def test_a_bad_manifest_or_spec_is_a_bundle_error(good: Path, tmp_path: Path) -> None:
    entries = _entries(good)
    broken = dict(entries)
    broken[MANIFEST_NAME] = b"{not json"
    with zipfile.ZipFile(tmp_path / "m.zip", "w") as zf:
        for n, b in broken.items():
            zf.writestr(n, b)
    with pytest.raises(BundleError, match=MANIFEST_NAME):
        open_bundle(tmp_path / "m.zip", tmp_path / "o1")
    entries[SPEC_NAME] = b'{"title": 3}'
    with pytest.raises(BundleError, match=SPEC_NAME):
        open_bundle(_repack(entries, tmp_path / "s.zip"), tmp_path / "o2")
    assert _left(tmp_path / "o1") == [] and _left(tmp_path / "o2") == []
