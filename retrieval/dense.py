"""The dense index: Chroma with precomputed MiniLM vectors (never Chroma's own embedder).

`PersistentClient` under the index directory by default; a Chroma server through
`HttpClient` when `CHROMA_HOST` is set (`CHROMA_PORT`, default 8000). Vector ids are
`<document version key>:<chunk id>`, so a new version of a document never overwrites the
vectors the committed manifest still points to.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

COLLECTION_PREFIX = "wb-chunks"


def _client(directory: Path) -> Any:
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    host = os.environ.get("CHROMA_HOST")
    if host:
        port = int(os.environ.get("CHROMA_PORT", "8000"))
        return chromadb.HttpClient(host=host, port=port, settings=settings)
    return chromadb.PersistentClient(path=str(directory / "chroma"), settings=settings)


class DenseStore:
    """One Chroma collection per index directory (cosine space)."""

    def __init__(self, directory: Path, *, client: Any = None) -> None:
        self._client = client if client is not None else _client(directory)
        ident = hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:16]
        self.name = f"{COLLECTION_PREFIX}-{ident}"
        self._collection = self._client.get_or_create_collection(
            self.name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        self._max_batch = int(self._client.get_max_batch_size())
        self._count = int(self._collection.count())

    def add(self, ids: list[str], vectors: np.ndarray, metadatas: list[dict[str, Any]]) -> None:
        for start in range(0, len(ids), self._max_batch):
            end = start + self._max_batch
            self._collection.upsert(
                ids=ids[start:end], embeddings=vectors[start:end], metadatas=metadatas[start:end]
            )
        self._count = int(self._collection.count())

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), self._max_batch):
            self._collection.delete(ids=ids[start : start + self._max_batch])
        self._count = int(self._collection.count())

    def query(
        self, vector: np.ndarray, n: int, where: dict[str, Any] | None
    ) -> list[tuple[str, float]]:
        count = self._count  # cached: a count() per query costs a round trip
        if count == 0:
            return []
        result = self._collection.query(
            query_embeddings=[vector],
            n_results=min(n, count),
            where=where,
            include=["distances"],
        )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[0.0] * len(ids)])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=False)]

    def count(self) -> int:
        self._count = int(self._collection.count())
        return self._count
