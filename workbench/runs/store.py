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
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrieval.locking import FileLock
from workbench.core.errors import UserError
from workbench.runs.manifest import RunManifest, load_manifest

_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")
#: the cache keys of the model responses a run used: its cassette when it is shared
CASSETTE_KEYS = "cassette.keys"
_READ_SIZE = 1 << 16
# reading a result need not write its inode (the first read of a fresh file does, under
# relatime): ~1.5 us a file on ext4, which a resume of thousands of tasks pays per task
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOATIME", 0)


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Temp file + rename: readers see the old file or the new one, never half of one.

    The rename alone survives a killed process (kill -9); `fsync` also survives a power
    cut, at ~4 ms a file on this kind of disk.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any, *, fsync: bool = True, indent: int | None = 2) -> None:
    atomic_write_bytes(
        path,
        json.dumps(obj, indent=indent, ensure_ascii=False, default=str).encode("utf-8"),
        fsync=fsync,
    )


def read_json_file(path: Path) -> Any:
    """A JSON file of a run; a damaged one is a `UserError` that names it and says what to do."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(
            f"{path} is damaged ({e}); delete that run folder, or run the analysis again with "
            "--new-run"
        ) from e


def run_lock(wb_dir: Path, name: str) -> FileLock:
    """The lock of one run (`name` = its id) or of choosing a run (`"runs"`), kept in
    `<project>/.workbench/locks/` (outside the run dir, so never in its bundle)."""
    what = "choosing a run" if name == "runs" else f"run {name}"
    return FileLock(wb_dir / "locks" / f"{name}.lock", what)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunStore:
    """One run's directory. Every write is atomic; appends go to JSON-lines files."""

    def __init__(self, run_dir: Path, *, durable: bool = False, journal: bool = False) -> None:
        self.dir = run_dir
        self.run_id = run_dir.name
        self.tasks_dir = run_dir / "tasks"
        self._tasks_str = os.fspath(self.tasks_dir)
        self.durable = durable  # fsync each task result (power-loss safe, slower)
        # journal: results appended to tasks/journal.jsonl (one write per task, no file
        # creation) instead of one file per key; for fan-outs of many thousands of tasks
        self.journal = journal
        self._append_lock = threading.Lock()
        self._journal_index: dict[str, dict[str, Any]] | None = None
        self._journal_file: Any = None

    @classmethod
    def create(cls, runs_dir: Path, label: str = "", *, journal: bool = False) -> RunStore:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:24]
        for _ in range(8):  # two runs started in the same second: another token
            run_id = f"{stamp}-{slug + '-' if slug else ''}{secrets.token_hex(2)}"
            run_dir = runs_dir / run_id
            try:
                run_dir.mkdir(parents=True, exist_ok=False)
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"no free run id under {runs_dir}")
        (run_dir / "tasks").mkdir()
        return cls(run_dir, journal=journal)

    # manifest -----------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def manifest(self) -> RunManifest:
        """The typed manifest (`runs.manifest.load_manifest`); defaults when none is written."""
        return load_manifest(self.manifest_path)

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        """The one writer of `manifest.json`: `fields` are checked against `RunManifest`
        (a wrong type, or a name the model does not declare, raises before anything is
        written: a writer left behind by a renamed field fails instead of adding a stray
        key), then the file is replaced atomically. Reading stays lenient: a manifest with
        keys of other versions loads."""
        unknown = sorted(set(fields) - set(RunManifest.model_fields))
        if unknown:
            raise ValueError(f"not fields of the run manifest: {unknown}")
        current = self.manifest().as_dict() if self.manifest_path.exists() else {}
        m = RunManifest.model_validate({**current, **fields, "updated_at": now_iso()})
        data = m.as_dict()
        atomic_write_json(self.manifest_path, data)
        return data

    # tasks ----------------------------------------------------------------------
    def task_path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"bad task key {key!r}")
        return self.tasks_dir / f"{key}.json"

    @property
    def journal_path(self) -> Path:
        return self.tasks_dir / "journal.jsonl"

    def _journal(self) -> dict[str, dict[str, Any]]:
        if self._journal_index is None:
            index: dict[str, dict[str, Any]] = {}
            if self.journal_path.exists():
                lines = [x for x in self.journal_path.read_text(encoding="utf-8").split("\n") if x]
                try:  # one parse for the whole journal: resuming a big run stays cheap
                    records = json.loads("[" + ",".join(lines) + "]")
                except json.JSONDecodeError:
                    records = []
                    for line in lines:
                        try:
                            records.append(json.loads(line))
                        except json.JSONDecodeError:
                            continue  # the line a kill cut short: that task runs again
                for rec in records:
                    index.setdefault(rec["key"], rec["result"])
            self._journal_index = index
        return self._journal_index

    def _append_journal(self, key: str, result: dict[str, Any]) -> None:
        line = json.dumps({"key": key, "result": result}, ensure_ascii=False, default=str)
        with self._append_lock:
            if self._journal_file is None:
                self.tasks_dir.mkdir(parents=True, exist_ok=True)
                f = open(self.journal_path, "a+b")  # noqa: SIM115 -- kept open for appends
                if f.tell() > 0:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        f.write(b"\n")  # end a line cut by a kill before appending
                self._journal_file = f
            self._journal_file.write(line.encode("utf-8") + b"\n")
            self._journal_file.flush()
            if self.durable:
                os.fsync(self._journal_file.fileno())
            self._journal().setdefault(key, result)

    def close(self) -> None:
        with self._append_lock:
            if self._journal_file is not None:
                self._journal_file.close()
                self._journal_file = None

    def load_task(self, key: str) -> dict[str, Any] | None:
        """The result of a finished task, or None: not finished, or unreadable (then removed)."""
        return next(self.load_tasks([key]))

    def load_tasks(self, keys: Iterable[str]) -> Iterator[dict[str, Any] | None]:
        """`load_task` for each key in turn, checking for a journal once, not once a key."""
        journaled: dict[str, dict[str, Any]] = {}
        if self.journal or self._journal_index is not None or self.journal_path.exists():
            journaled = self._journal()
        for key in keys:
            result = journaled.get(key)
            yield result if result is not None else self._read_task_file(key)

    def _read_task_file(self, key: str) -> dict[str, Any] | None:
        if not _KEY.match(key):
            raise ValueError(f"bad task key {key!r}")
        # str paths and os-level reads: a resumed run reads thousands of these, and Path
        # objects with the buffered text-file machinery of read_text cost 3x the read
        path = f"{self._tasks_str}{os.sep}{key}.json"
        try:
            try:
                fd = os.open(path, _READ_FLAGS)
            except PermissionError:  # O_NOATIME is allowed to the file's owner only
                fd = os.open(path, os.O_RDONLY)
            try:
                chunks = []
                while chunk := os.read(fd, _READ_SIZE):
                    chunks.append(chunk)
            finally:
                os.close(fd)
            result = json.loads(b"".join(chunks).decode("utf-8"))
        except FileNotFoundError:
            return None
        except (UnicodeDecodeError, json.JSONDecodeError):
            result = None
        if not isinstance(result, dict):
            # cannot happen with atomic writes unless the disk lied; redo the task
            Path(path).unlink(missing_ok=True)
            return None
        return result

    def save_task(self, key: str, result: dict[str, Any]) -> None:
        if self.journal:
            if not _KEY.match(key):
                raise ValueError(f"bad task key {key!r}")
            self._append_journal(key, result)
            return
        atomic_write_json(self.task_path(key), result, fsync=self.durable, indent=None)

    def has_task(self, key: str) -> bool:
        if self.journal_path.exists() and key in self._journal():
            return True
        return self.task_path(key).exists()

    def finished_tasks(self) -> set[str]:
        try:  # names only; temp files of writes a kill cut short start with "." and end in .tmp
            with os.scandir(self.tasks_dir) as entries:
                keys = {e.name[:-5] for e in entries if e.name.endswith(".json")}
        except FileNotFoundError:
            keys = set()
        if self.journal_path.exists():
            keys.update(self._journal())
        return keys

    # artefacts ---------------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> Path:
        path = self.dir / name
        atomic_write_json(path, obj)
        return path

    def read_json(self, name: str) -> Any:
        return read_json_file(self.dir / name)

    def append_jsonl(self, name: str, record: dict[str, Any]) -> None:
        line = json.dumps({"ts": time.time(), **record}, ensure_ascii=False, default=str)
        with self._append_lock, open(self.dir / name, "a", encoding="utf-8") as f:
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


def find_resumable(
    runs_dir: Path, input_key: str, *, durable: bool = False, journal: bool = False
) -> RunStore | None:
    """The newest unfinished run under `runs_dir` started with `input_key` (the hash of a
    run's inputs), or None. Folders whose manifest cannot be read are passed over."""
    if not runs_dir.is_dir():
        return None
    for d in sorted(runs_dir.iterdir(), reverse=True):
        store = RunStore(d, durable=durable, journal=journal)
        try:
            m = store.manifest()
        except UserError:
            continue
        if m.input_key == input_key and m.status != "complete":
            return store
    return None
