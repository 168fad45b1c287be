"""The shareable run bundle: a run directory zipped with a manifest and the LLM cassette.

`make_bundle` zips the run directory (deterministically: sorted entries, fixed times,
no clock in the manifest, so the same run gives the same bytes), adds the `ReportSpec` the exports were rendered
from (`report_spec.json`) and the LLM cassette (`cassette.sqlite`, the recorded model
responses that let the analysis be replayed without an API key), and writes
`bundle_manifest.json` with a sha256 for every file.

`open_bundle` extracts safely (no absolute paths, no `..`, no links, a size cap),
verifies every hash, and returns an `OpenedBundle` whose `rerender()` rebuilds the deck
and the reports from the stored spec, offline: nothing here talks to a model or the
network. (Replaying the analysis itself from the cassette is the workbench's job.)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from exports.errors import BundleError, ExportInputError
from exports.spec import ReportSpec

__all__ = [
    "BUNDLE_FORMAT",
    "CASSETTE_NAME",
    "MANIFEST_NAME",
    "SPEC_NAME",
    "OpenedBundle",
    "make_bundle",
    "open_bundle",
]

BUNDLE_FORMAT = 1
MANIFEST_NAME = "bundle_manifest.json"
SPEC_NAME = "report_spec.json"
CASSETTE_NAME = "cassette.sqlite"
MAX_UNPACKED_BYTES = 4 * 1024**3
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_STORED = {".png", ".zip", ".m4a", ".mp3", ".mp4", ".pptx", ".ogg", ".opus", ".webm", ".jpg"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest(src: Path | bytes) -> dict[str, Any]:
    if isinstance(src, bytes):
        return {"sha256": _sha256(src), "bytes": len(src)}
    h = hashlib.sha256()
    with src.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"sha256": h.hexdigest(), "bytes": src.stat().st_size}


def _files(run_dir: Path, skip: set[Path]) -> list[tuple[str, Path]]:
    out = []
    for p in sorted(run_dir.rglob("*")):
        if p.is_symlink() or not p.is_file() or p.resolve() in skip:
            continue
        rel = p.relative_to(run_dir).as_posix()
        if rel in {MANIFEST_NAME, "bundle.zip"} or rel.endswith(
            ".tmp"
        ):  # never a bundle in a bundle
            continue
        out.append((rel, p))
    return out


def make_bundle(
    run_dir: Path,
    out_path: Path | None = None,
    *,
    spec: ReportSpec | None = None,
    cassette: Path | None = None,
    exclude: Iterable[str] = (),
) -> Path:
    """Zip `run_dir` into `out_path` (default `<run_dir>/bundle.zip`) and return it.

    `spec`: stored as report_spec.json (overrides one already in the run dir).
    `cassette`: the run's recorded LLM responses (a SQLite file), stored as cassette.sqlite.
    `exclude`: run-relative paths to leave out (e.g. large source media).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ExportInputError(f"run directory {run_dir} does not exist")
    out_path = Path(out_path) if out_path is not None else run_dir / "bundle.zip"
    if cassette is not None and not Path(cassette).is_file():
        raise ExportInputError(
            f"cassette {cassette} does not exist; pass the run's cassette file or None"
        )
    skip = {out_path.resolve()}
    excluded = set(exclude)
    # name -> file on disk or bytes; files are streamed, never all held in memory
    entries: dict[str, Path | bytes] = {
        rel: p for rel, p in _files(run_dir, skip) if rel not in excluded
    }
    if spec is not None:
        entries[SPEC_NAME] = spec.model_dump_json(indent=1).encode("utf-8")
    if cassette is not None:
        entries[CASSETTE_NAME] = Path(cassette)
    stored_spec = None
    if SPEC_NAME in entries:
        raw = entries[SPEC_NAME]
        stored_spec = ReportSpec.model_validate_json(
            raw if isinstance(raw, bytes) else raw.read_bytes()
        )
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "created_by": "research-workbench exports",
        "run_id": stored_spec.run_id if stored_spec else run_dir.name,
        "engine": stored_spec.engine if stored_spec else None,
        "engine_note": stored_spec.engine_note if stored_spec else None,
        "spec": SPEC_NAME if stored_spec else None,
        "cassette": CASSETTE_NAME if CASSETTE_NAME in entries else None,
        "run_manifest": "manifest.json" if "manifest.json" in entries else None,
        "files": {rel: _digest(src) for rel, src in sorted(entries.items())},
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        items = [
            (MANIFEST_NAME, json.dumps(manifest, indent=1).encode("utf-8")),
            *sorted(entries.items()),
        ]
        for rel, src in items:
            info = zipfile.ZipInfo(rel, date_time=_FIXED_TIME)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            packed = PurePosixPath(rel).suffix.lower() in _STORED
            info.compress_type = zipfile.ZIP_STORED if packed else zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as dst:
                if isinstance(src, bytes):
                    dst.write(src)
                else:
                    with src.open("rb") as fh:
                        shutil.copyfileobj(fh, dst, 1 << 20)
    tmp.replace(out_path)
    return out_path


@dataclass
class OpenedBundle:
    """An extracted, verified bundle."""

    path: Path  # the extracted run directory
    manifest: dict[str, Any]
    spec: ReportSpec | None
    cassette: Path | None
    files: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", ""))

    def rerender(
        self, out_dir: Path | None = None, *, template: Path | None = None
    ) -> dict[str, Path]:
        """Rebuild deck.pptx, report.html and report.md from the stored spec, offline.

        Charts and clips are taken from the bundle (paths in the spec are relative to it).
        """
        if self.spec is None:
            raise BundleError(f"bundle {self.path} has no {SPEC_NAME}; it cannot be re-rendered")
        from exports.deck import build_deck  # here: python-pptx is only needed to re-render
        from exports.report import write_html, write_markdown

        out = Path(out_dir) if out_dir is not None else self.path / "rerendered"
        return {
            "deck": build_deck(self.spec, self.path, out / "deck.pptx", template=template),
            "html": write_html(self.spec, self.path, out / "report.html"),
            "markdown": write_markdown(self.spec, self.path, out / "report.md"),
        }

    def _repr_html_(self) -> str:
        s = self.spec
        head = f"<b>Run bundle {self.run_id}</b> — {len(self.files)} files"
        if s is None:
            return head
        return (
            f"{head}<br><i>{s.engine_note}</i><br>{s.title}: {len(s.themes)} themes over "
            f"{s.n_documents} documents of {s.corpus_name}"
        )


def _safe_name(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")) or ":" in p.parts[0]:
        raise BundleError(f"bundle entry {name!r} would be written outside the bundle folder")
    return p


def open_bundle(path: Path, dest: Path | None = None, *, verify: bool = True) -> OpenedBundle:
    """Extract bundle `path` into `dest` (default: a new temporary folder) and verify it."""
    path = Path(path)
    if not path.is_file():
        raise ExportInputError(f"bundle {path} does not exist")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise BundleError(f"{path} is not a zip file ({exc}); was it fully downloaded?") from exc
    dest = Path(dest) if dest is not None else Path(tempfile.mkdtemp(prefix="wb-bundle-"))
    dest.mkdir(parents=True, exist_ok=True)
    with zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
            raise BundleError(
                f"{path.name} unpacks to more than {MAX_UNPACKED_BYTES} bytes; refusing"
            )
        if MANIFEST_NAME not in zf.namelist():
            raise BundleError(f"{path.name} has no {MANIFEST_NAME}; it is not a workbench bundle")
        names = []
        for info in infos:
            rel = _safe_name(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BundleError(f"bundle entry {info.filename!r} is a link; refusing")
            if info.is_dir():
                continue
            target = dest.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            names.append(rel.as_posix())
    manifest = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"bundle format {manifest.get('format')!r} is not supported (expected {BUNDLE_FORMAT})"
        )
    listed: dict[str, dict[str, Any]] = manifest.get("files", {})
    if verify:
        missing = sorted(set(listed) - set(names))
        extra = sorted(set(names) - set(listed) - {MANIFEST_NAME})
        bad = [
            r for r in listed if r in names and _digest(dest / r)["sha256"] != listed[r]["sha256"]
        ]
        if missing or extra or bad:
            raise BundleError(
                f"bundle {path.name} does not match its manifest: missing {missing}, "
                f"unlisted {extra}, changed {bad}"
            )
    spec = None
    if manifest.get("spec"):
        spec = ReportSpec.model_validate_json((dest / manifest["spec"]).read_text(encoding="utf-8"))
    cassette = dest / manifest["cassette"] if manifest.get("cassette") else None
    return OpenedBundle(
        path=dest, manifest=manifest, spec=spec, cassette=cassette, files=sorted(listed)
    )
