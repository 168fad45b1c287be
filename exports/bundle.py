"""The shareable run bundle: a run directory zipped with a manifest and the LLM cassette.

`make_bundle` zips the run directory (deterministically: sorted entries, fixed times,
no clock in the manifest, so the same run gives the same bytes), adds the `ReportSpec` the exports were rendered
from (`report_spec.json`) and the LLM cassette (`cassette.sqlite`, the recorded model
responses that let the analysis be replayed without an API key), and writes
`bundle_manifest.json` with a sha256 for every file.

`open_bundle` extracts safely (no absolute paths, no `..`, no links, caps on entries,
sizes and compression ratio checked before writing, every path the manifest and the
spec name checked to be a file of the bundle, nothing left behind on a refusal),
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
from exports.paths import is_relative_inside
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
MAX_ENTRIES = 20_000
MAX_MANIFEST_BYTES = 64 * 1024**2
MAX_RATIO = 200  # an entry over 1 MiB that unpacks to more than this many times its size
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
    """A bundle entry name: canonical, relative, inside the bundle ("", "." and ".." refused)."""
    body = name[:-1] if name.endswith("/") else name
    if not body or "\\" in name or "\x00" in name:
        raise BundleError(f"bundle entry {name!r} has no usable name; refusing the bundle")
    p = PurePosixPath(body)
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise BundleError(f"bundle entry {name!r} would be written outside the bundle folder")
    if not p.parts or p.as_posix() != body or "." in body.split("/"):
        raise BundleError(f"bundle entry {name!r} is not a plain path; refusing the bundle")
    return p


def _listed_name(field: str, value: Any, listed: dict[str, Any]) -> str | None:
    """A file the manifest or spec names: None, or a file the bundle itself lists."""
    if value is None:
        return None
    if not isinstance(value, str) or not is_relative_inside(value) or value not in listed:
        raise BundleError(
            f"{field} names {str(value)[:120]!r}, outside the bundle (not one of its files); "
            "refusing the bundle"
        )
    return value


def _check_spec_paths(spec: ReportSpec, listed: dict[str, Any]) -> None:
    """Every path the spec names is a file of the bundle (or a missing clip, named plainly)."""
    for c in spec.charts:
        for attr in ("png_path", "svg_path", "code_path", "data_path"):
            value = getattr(c, attr)
            if value is not None:
                _listed_name(f"chart {c.id!r} {attr}", value, listed)
    if spec.findings_csv is not None and not is_relative_inside(spec.findings_csv):
        raise BundleError(
            f"the spec names findings table {spec.findings_csv[:120]!r}, outside the bundle; "
            "refusing the bundle"
        )
    for t in spec.themes:
        for q in (*t.quotes, *(q for c in t.codes for q in c.quotes)):
            if q.media_path is not None and not is_relative_inside(q.media_path):
                raise BundleError(
                    f"a quote of theme {t.id!r} names clip {q.media_path[:120]!r}, outside the "
                    "bundle; refusing the bundle"
                )


def _read_manifest(zf: zipfile.ZipFile, bundle: str) -> dict[str, Any]:
    try:
        info = zf.getinfo(MANIFEST_NAME)
    except KeyError:
        raise BundleError(
            f"{bundle} has no {MANIFEST_NAME}; it is not a workbench bundle"
        ) from None
    if info.file_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{bundle}: {MANIFEST_NAME} is {info.file_size} bytes; refusing")
    try:
        manifest = json.loads(zf.read(info).decode("utf-8"))
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{bundle}: {MANIFEST_NAME} is unreadable ({exc})") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"{bundle}: {MANIFEST_NAME} is not a JSON object")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"bundle format {manifest.get('format')!r} is not supported (expected {BUNDLE_FORMAT})"
        )
    files = manifest.get("files", {})
    ok = isinstance(files, dict) and all(
        isinstance(v, dict) and isinstance(v.get("sha256"), str) and isinstance(v.get("bytes"), int)
        for v in files.values()
    )
    if not ok:
        raise BundleError(f"{bundle}: {MANIFEST_NAME} has a malformed file list")
    for name in files:
        _safe_name(name)
    return manifest


def _plan(zf: zipfile.ZipFile, bundle: str, listed: dict[str, Any], verify: bool) -> list[Any]:
    """The entries to extract, checked before a single byte is written."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise BundleError(f"{bundle} has {len(infos)} entries, more than {MAX_ENTRIES}; refusing")
    todo, seen, total = [], set(), 0
    for info in infos:
        rel = _safe_name(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BundleError(f"bundle entry {info.filename!r} is a link; refusing")
        if info.is_dir():
            continue
        name = rel.as_posix()
        if name in seen:
            raise BundleError(f"bundle entry {name!r} appears twice; refusing")
        seen.add(name)
        if name == MANIFEST_NAME:
            continue
        size = info.file_size
        if verify:
            if name not in listed:
                raise BundleError(f"bundle {bundle} does not match its manifest: unlisted {[name]}")
            if size != listed[name]["bytes"]:
                raise BundleError(
                    f"bundle {bundle} does not match its manifest: changed {[name]} (it unpacks "
                    f"to {size} bytes, the manifest says {listed[name]['bytes']})"
                )
        if size > (1 << 20) and size > MAX_RATIO * max(info.compress_size, 1):
            raise BundleError(
                f"bundle entry {name!r} unpacks {size // max(info.compress_size, 1)}x its packed "
                "size (a zip bomb?); refusing"
            )
        total += size
        todo.append(info)
    if total > MAX_UNPACKED_BYTES:
        raise BundleError(f"{bundle} unpacks to more than {MAX_UNPACKED_BYTES} bytes; refusing")
    if verify:
        missing = sorted(set(listed) - seen)
        if missing:
            raise BundleError(
                f"bundle {bundle} does not match its manifest: missing {missing}, unlisted [], "
                "changed []"
            )
    return todo


def _extract(zf: zipfile.ZipFile, info: Any, target: Path) -> str:
    """Write one entry, never more bytes than it declares; returns its sha256."""
    h = hashlib.sha256()
    written = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as src, target.open("xb") as dst:
        while block := src.read(1 << 20):
            written += len(block)
            if written > info.file_size:
                raise BundleError(f"bundle entry {info.filename!r} is longer than it declares")
            h.update(block)
            dst.write(block)
    return h.hexdigest()


def open_bundle(path: Path, dest: Path | None = None, *, verify: bool = True) -> OpenedBundle:
    """Extract bundle `path` into `dest` (default: a new temporary folder) and verify it.

    Everything is checked before it is used: entry names (relative, canonical, no links),
    their number and sizes against the manifest (a zip bomb is refused before anything
    is written), each file's sha256, and every path the manifest or the report spec
    names (it must be a file of the bundle). The bundle is extracted into a temporary
    folder beside `dest` and moved into place only once it passed; any failure removes
    everything and raises one `BundleError`. `dest` must not exist or be empty.
    """
    path = Path(path)
    if not path.is_file():
        raise ExportInputError(f"bundle {path} does not exist")
    final = Path(dest) if dest is not None else None
    if final is not None and final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise BundleError(
            f"{final} is not an empty folder; give a new folder to open the bundle in"
        )
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{path} is not a zip file ({exc}); was it fully downloaded?") from exc
    if final is not None:
        final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".wb-bundle-", dir=final.parent if final else None))
    try:
        with zf:
            opened = _open_into(zf, path.name, work, verify)
        if final is not None:
            if final.exists():
                final.rmdir()
            work.replace(final)
            opened = _moved(opened, work, final)
        return opened
    except BaseException as exc:
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(exc, zipfile.BadZipFile | zipfile.LargeZipFile | EOFError):
            raise BundleError(f"{path.name} is damaged ({exc}); was it fully downloaded?") from exc
        if isinstance(exc, OSError) and not isinstance(exc, BundleError):
            raise BundleError(f"cannot open {path.name}: {exc}") from exc
        raise


def _moved(opened: OpenedBundle, old: Path, new: Path) -> OpenedBundle:
    cassette = new / opened.cassette.relative_to(old) if opened.cassette is not None else None
    return OpenedBundle(
        path=new, manifest=opened.manifest, spec=opened.spec, cassette=cassette, files=opened.files
    )


def _open_into(zf: zipfile.ZipFile, bundle: str, dest: Path, verify: bool) -> OpenedBundle:
    manifest = _read_manifest(zf, bundle)
    listed: dict[str, dict[str, Any]] = manifest.get("files", {})
    changed = []
    for info in _plan(zf, bundle, listed, verify):
        name = _safe_name(info.filename).as_posix()
        digest = _extract(zf, info, dest.joinpath(*name.split("/")))
        if verify and digest != listed[name]["sha256"]:
            changed.append(name)
    if changed:
        raise BundleError(
            f"bundle {bundle} does not match its manifest: missing [], unlisted [], "
            f"changed {changed}"
        )
    (dest / MANIFEST_NAME).write_bytes(zf.read(MANIFEST_NAME))
    known = listed if verify else {n: {} for n in _names(dest)}
    spec_name = _listed_name(f"{MANIFEST_NAME} 'spec'", manifest.get("spec"), known)
    cassette = _listed_name(f"{MANIFEST_NAME} 'cassette'", manifest.get("cassette"), known)
    _listed_name(f"{MANIFEST_NAME} 'run_manifest'", manifest.get("run_manifest"), known)
    spec = None
    if spec_name:
        try:
            spec = ReportSpec.model_validate_json((dest / spec_name).read_bytes())
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            first = str(exc).splitlines()[:3]
            raise BundleError(f"{bundle}: {SPEC_NAME} is not a valid report spec: {first}") from exc
        _check_spec_paths(spec, known)
    return OpenedBundle(
        path=dest,
        manifest=manifest,
        spec=spec,
        cassette=dest / cassette if cassette else None,
        files=sorted(listed),
    )


def _names(dest: Path) -> list[str]:
    return [p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()]
