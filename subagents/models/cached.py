"""`CachedModel`: content-addressed model responses in SQLite (`cache.sqlite`).

The key is sha256 of the wrapped model's name, the resolved model id and the request's
canonical JSON, so the same request always maps to the same response. Modes:
- `record` (default): a miss calls the wrapped model and stores the response;
- `replay_only`: a miss raises `CacheMissError` (tests, replaying a shared bundle).
A hit returns the stored response with `cached=True` and `cost_usd=0` (nothing is spent
now); its `usage` is the original one, so reports can still show what it cost.

The schema is versioned by an append-only list of migrations (`PRAGMA user_version`).
Concurrent writers in one process are fine; WAL mode lets several processes read.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Literal

from subagents.errors import CacheMissError
from subagents.models.messages import Model, ModelRequest, ModelResponse

CacheMode = Literal["record", "replay_only"]


def _m1(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE responses (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
        "request TEXT NOT NULL, response TEXT NOT NULL, created REAL NOT NULL)"
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m1]


def request_key(model_name: str, model_id: str, request: ModelRequest) -> str:
    canonical = json.dumps(
        {"model": model_name, "model_id": model_id, "request": request.model_dump(mode="json")},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class CachedModel:
    """Wraps any `Model`; see the module docstring."""

    def __init__(
        self,
        inner: Model,
        path: str | Path,
        *,
        mode: CacheMode = "record",
        keys_file: str | Path | None = None,
    ) -> None:
        """`keys_file`: every key this model reads or writes is appended to it (once), so a
        run can take exactly its own responses with it (`export_cassette`)."""
        self.inner = inner
        self.keys_file = Path(keys_file) if keys_file is not None else None
        self._used: set[str] = set()
        self.name = f"cached({inner.name})"
        self.mode: CacheMode = mode
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self.hits = 0
        self.misses = 0
        self._migrate()

    def _migrate(self) -> None:
        with self._lock, self._db:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for i, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                migration(self._db)
                self._db.execute(f"PRAGMA user_version = {i}")

    def _model_id(self, request: ModelRequest) -> str:
        resolve = getattr(self.inner, "model_id", None)
        if callable(resolve):
            return str(resolve(request))
        return request.model or request.tier

    def _note_key(self, key: str) -> None:
        if self.keys_file is None:
            return
        with self._lock:
            if key in self._used:
                return
            self._used.add(key)
            with self.keys_file.open("a", encoding="utf-8") as fh:
                fh.write(key + "\n")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM responses").fetchone()[0])

    async def complete(self, request: ModelRequest) -> ModelResponse:
        model_id = self._model_id(request)
        key = request_key(self.inner.name, model_id, request)
        with self._lock:
            row = self._db.execute(
                "SELECT response FROM responses WHERE key = ?", (key,)
            ).fetchone()
        self._note_key(key)
        if row is not None:
            self.hits += 1
            stored = ModelResponse.model_validate_json(row[0])
            return stored.model_copy(
                update={"cached": True, "cost_usd": Decimal(0), "latency_s": 0.0}
            )
        self.misses += 1
        if self.mode == "replay_only":
            raise CacheMissError(
                f"replay-only cache {self.path} has no response for request {key[:12]} "
                f"(model {model_id}); record it first with mode='record'"
            )
        response = await self.inner.complete(request)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, julianday('now'))",
                (key, model_id, request.model_dump_json(), response.model_dump_json()),
            )
        return response


def export_cassette(cache_path: str | Path, keys: set[str], dest: str | Path) -> int:
    """Copy the responses of `keys` from the cache at `cache_path` into a new cassette at
    `dest` (same schema, so `CachedModel(..., mode="replay_only")` replays it); returns how
    many were copied. A shared run carries its own responses, never the project's cache."""
    dest = Path(dest)
    dest.unlink(missing_ok=True)
    out = sqlite3.connect(dest)
    try:
        with out:
            for i, migration in enumerate(MIGRATIONS, start=1):
                migration(out)
                out.execute(f"PRAGMA user_version = {i}")
        src = sqlite3.connect(f"file:{Path(cache_path)}?mode=ro", uri=True)
        try:
            wanted = sorted(keys)
            copied = 0
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = src.execute(
                    f"SELECT * FROM responses WHERE key IN ({marks})", part
                ).fetchall()
                with out:
                    out.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)", rows)
                copied += len(rows)
        finally:
            src.close()
    finally:
        out.close()
    return copied
