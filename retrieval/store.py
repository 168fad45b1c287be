"""The on-disk state of an index: a manifest of content hashes and one record per document.

Layout of an index directory:
    manifest.json       committed last, atomically (write temp, fsync, rename)
    docs/<key>.json     one record per document version: chunks, their tokens, synthetic
                        queries; a new version gets a new file, so the live one is never
                        overwritten
    pending.json        vector ids added to Chroma by an update not yet committed; a
                        crashed update's vectors are deleted by the next one
    chroma/             the Chroma persistent store (when not using a Chroma server)

A failure half-way through an update leaves the previous manifest, its records and its
vectors untouched: the index keeps answering from them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import IndexStateError

FORMAT_VERSION = 1

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(data: bytes) -> Any:
        return orjson.loads(data)

except ImportError:  # pragma: no cover

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")

    def _loads(data: bytes) -> Any:
        return json.loads(data)


@dataclass
class DocEntry:
    content_hash: str
    key: str  # record file stem and vector-id prefix of this document version
    n_chunks: int


@dataclass
class Manifest:
    config_key: str = ""
    docs: dict[str, DocEntry] = field(default_factory=dict)
    generation: int = 0
    # the embedder that made the vectors: {"name": ..., "dimension": ...}; empty in
    # indexes written before it was recorded
    embedder: dict[str, Any] = field(default_factory=dict)
    # the Chroma collection holding the vectors: {"collection": name, "id": Chroma's id};
    # checked on open (a lost or recreated store has no or another id)
    dense: dict[str, str] = field(default_factory=dict)


class DamagedStateError(IndexStateError):
    """A file of the index is unreadable (the index repairs itself from what is left)."""


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temp file behind
        raise


def version_key(doc_id: str, content_hash: str, config_key: str) -> str:
    ident = hashlib.sha1(f"{doc_id}\0{config_key}".encode()).hexdigest()[:12]
    return f"{ident}-{content_hash[:16]}"


class IndexStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.docs_dir = directory / "docs"
        self.manifest_path = directory / "manifest.json"
        self.pending_path = directory / "pending.json"

    def ensure(self) -> None:
        self.docs_dir.mkdir(parents=True, exist_ok=True)

    def load_manifest(self) -> Manifest:
        if not self.manifest_path.exists():
            return Manifest()
        try:
            raw = _loads(self.manifest_path.read_bytes())
            if raw.get("format") != FORMAT_VERSION:
                raise IndexStateError(
                    f"{self.manifest_path}: index format {raw.get('format')} is not "
                    f"{FORMAT_VERSION}; delete {self.directory} to rebuild it."
                )
            docs = {k: DocEntry(**v) for k, v in raw["docs"].items()}
            dense = {str(k): str(v) for k, v in (raw.get("dense") or {}).items()}
            return Manifest(
                config_key=raw["config_key"],
                docs=docs,
                generation=raw["generation"],
                embedder=dict(raw.get("embedder") or {}),
                dense=dense,
            )
        except IndexStateError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DamagedStateError(
                f"{self.manifest_path}: unreadable manifest ({exc}); delete {self.directory} to rebuild."
            ) from exc

    def set_aside(self, path: Path) -> Path:
        """Rename a damaged file or folder of the index to `<name>.damaged-<time>`."""
        import time

        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        path.replace(aside)
        return aside

    def commit(self, manifest: Manifest) -> None:
        payload = {
            "format": FORMAT_VERSION,
            "config_key": manifest.config_key,
            "generation": manifest.generation,
            "embedder": manifest.embedder,
            "docs": {k: vars(v) for k, v in manifest.docs.items()},
        }
        if manifest.dense:
            payload["dense"] = manifest.dense
        atomic_write(self.manifest_path, _dumps(payload))

    def write_record(self, key: str, record: dict[str, Any]) -> None:
        atomic_write(self.docs_dir / f"{key}.json", _dumps(record))

    def read_record(self, key: str) -> dict[str, Any]:
        path = self.docs_dir / f"{key}.json"
        try:
            result: dict[str, Any] = _loads(path.read_bytes())
            return result
        except (OSError, ValueError) as exc:
            raise DamagedStateError(
                f"{path}: document record missing or corrupt ({exc}); delete {self.directory} to rebuild."
            ) from exc

    def collect_garbage(self, live_keys: set[str]) -> None:
        for path in self.docs_dir.glob("*.json"):
            if path.stem not in live_keys:
                path.unlink(missing_ok=True)
        for path in self.docs_dir.glob(".*.tmp"):
            path.unlink(missing_ok=True)

    def read_pending(self) -> list[str]:
        if not self.pending_path.exists():
            return []
        try:
            data = _loads(self.pending_path.read_bytes())
            return [str(x) for x in data]
        except ValueError:
            return []

    def write_pending(self, keys: list[str]) -> None:
        atomic_write(self.pending_path, _dumps(keys))

    def clear_pending(self) -> None:
        self.pending_path.unlink(missing_ok=True)
