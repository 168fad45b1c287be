"""A content-addressed cache of embeddings: sha256(model name + text) -> vector, in SQLite.

Re-chunking with other settings, a new synthetic-query generator or an edit that leaves
most chunks of a document unchanged then re-embeds only the texts never seen before.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


class EmbeddingCache:
    """The cache of one index. A damaged file (not a database, a malformed page) is set
    aside as `<name>.damaged-<time>` and the cache starts empty: it only saves work, so
    losing it costs time, never an answer. What happened is listed in `repairs`."""

    def __init__(self, path: Path, model: str, dimension: int) -> None:
        self.path = path
        self.model = model
        self.dimension = dimension
        self.repairs: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)  # a project makes its folders lazily
        try:
            self._connect()
        except sqlite3.DatabaseError as e:
            self._set_aside(e)

    def _connect(self) -> None:
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB NOT NULL)"
            )
            self._db.execute("SELECT key FROM vec LIMIT 1").fetchall()
            self._db.commit()
        except sqlite3.DatabaseError:
            self._db.close()
            raise

    def _set_aside(self, error: Exception) -> None:
        with contextlib.suppress(Exception):
            self._db.close()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                src.replace(Path(str(aside) + suffix))
        self.repairs.append(
            f"the embedding cache {self.path.name} was damaged ({error}); it was set aside as "
            f"{aside.name} and a new one started (vectors are computed again)"
        )
        self._connect()

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model}\0{text}".encode()).hexdigest()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        try:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                query = f"SELECT key, v FROM vec WHERE key IN ({marks})"
                for k, blob in self._db.execute(query, part):
                    out[k] = np.frombuffer(blob, dtype=np.float32)
        except sqlite3.DatabaseError as e:
            self._set_aside(e)
            return {}
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        rows = [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()]
        try:
            self._db.executemany("INSERT OR REPLACE INTO vec (key, v) VALUES (?, ?)", rows)
            self._db.commit()
        except sqlite3.DatabaseError as e:
            self._set_aside(e)

    def close(self) -> None:
        self._db.close()


def embed_with_cache(
    encode: Callable[[list[str]], np.ndarray],
    cache: EmbeddingCache | None,
    texts: list[str],
    dimension: int,
) -> tuple[np.ndarray, int]:
    """Vectors for `texts` and how many were computed (the others came from the cache)."""
    if not texts:
        return np.zeros((0, dimension), dtype=np.float32), 0
    if cache is None:
        return np.asarray(encode(texts), dtype=np.float32), len(texts)
    keys = [cache.key(t) for t in texts]
    found = cache.get_many(list(dict.fromkeys(keys)))
    missing = list(dict.fromkeys(k for k in keys if k not in found))
    if missing:
        first_text: dict[str, str] = {}
        for k, t in zip(keys, texts, strict=True):
            first_text.setdefault(k, t)
        vectors = np.asarray(encode([first_text[k] for k in missing]), dtype=np.float32)
        new = dict(zip(missing, vectors, strict=True))
        cache.put_many(new)
        found.update(new)
    return np.stack([found[k] for k in keys]).astype(np.float32), len(missing)
