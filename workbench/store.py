"""The run directory on disk: atomic writes, one file per finished task, the manifest.

Layout (DESIGN.md):  runs/<run-id>/{manifest.json, plan.json, tasks/<key>.json,
findings.parquet, themes.json, steering.jsonl, reviews.jsonl, trace.jsonl, charts/, ...}

A task's result is written atomically (temp file + rename) before it counts, so a
run killed at any point leaves only whole results behind and resumes from them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import UserError

_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(
        path, json.dumps(obj, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunStore:
    """One run's directory. Every write is atomic; appends go to JSON-lines files."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.run_id = run_dir.name
        self.tasks_dir = run_dir / "tasks"

    @classmethod
    def create(cls, runs_dir: Path, label: str = "") -> RunStore:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:24]
        run_id = f"{stamp}-{slug + '-' if slug else ''}{secrets.token_hex(2)}"
        run_dir = runs_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        (run_dir / "tasks").mkdir()
        return cls(run_dir)

    # manifest -----------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def read_manifest(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.manifest_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as e:
            raise UserError(f"{self.manifest_path}: corrupt manifest ({e})") from e

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        m = self.read_manifest()
        m.update(fields)
        m["updated_at"] = now_iso()
        atomic_write_json(self.manifest_path, m)
        return m

    # tasks ----------------------------------------------------------------------
    def task_path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"bad task key {key!r}")
        return self.tasks_dir / f"{key}.json"

    def load_task(self, key: str) -> dict[str, Any] | None:
        path = self.task_path(key)
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:
            # cannot happen with atomic writes unless the disk lied; redo the task
            path.unlink(missing_ok=True)
            return None

    def save_task(self, key: str, result: dict[str, Any]) -> None:
        atomic_write_json(self.task_path(key), result)

    def finished_tasks(self) -> set[str]:
        return {p.stem for p in self.tasks_dir.glob("*.json")}

    # artefacts ---------------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> Path:
        path = self.dir / name
        atomic_write_json(path, obj)
        return path

    def read_json(self, name: str) -> Any:
        return json.loads((self.dir / name).read_text(encoding="utf-8"))

    def append_jsonl(self, name: str, record: dict[str, Any]) -> None:
        line = json.dumps({"ts": time.time(), **record}, ensure_ascii=False, default=str)
        with open(self.dir / name, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def read_jsonl(self, name: str) -> Iterator[dict[str, Any]]:
        path = self.dir / name
        if not path.exists():
            return
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a kill; the rest of the log is intact
