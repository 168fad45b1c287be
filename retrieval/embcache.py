"""A content-addressed cache of embeddings: sha256(model name + text) -> vector, in SQLite.

Re-chunking with other settings, a new synthetic-query generator or an edit that leaves
most chunks of a document unchanged then re-embeds only the texts never seen before.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np


class EmbeddingCache:
    def __init__(self, path: Path, model: str, dimension: int) -> None:
        self.path = path
        self.model = model
        self.dimension = dimension
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB NOT NULL)")
        self._db.commit()

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model}\0{text}".encode()).hexdigest()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            for k, blob in self._db.execute(f"SELECT key, v FROM vec WHERE key IN ({marks})", part):
                out[k] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO vec (key, v) VALUES (?, ?)",
            [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
        )
        self._db.commit()

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
