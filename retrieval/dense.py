"""The dense index: Chroma with precomputed MiniLM vectors (never Chroma's own embedder).

`PersistentClient` under the index directory by default; a Chroma server through
`HttpClient` when `CHROMA_HOST` is set (`CHROMA_PORT`, default 8000). Vector ids are
`<document version key>:<chunk id>`, so a new version of a document never overwrites the
vectors the committed manifest still points to.
"""

from __future__ import annotations

import contextlib
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
    path = str(directory / "chroma")
    try:
        return chromadb.PersistentClient(path=path, settings=settings)
    except Exception:
        # Chroma keeps the half-started system of a store it could not open and would hand
        # it out again for this path: forget it, so a repaired store can be opened
        with contextlib.suppress(Exception):
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient._identifier_to_system.pop(path, None)
        raise


def default_collection_name(directory: Path) -> str:
    """The name an index without a recorded collection used (derived from its path)."""
    ident = hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:16]
    return f"{COLLECTION_PREFIX}-{ident}"


class DenseStore:
    """One Chroma collection per index directory (cosine space).

    `name`: the collection to open (the index records it in its manifest, so a moved
    project still finds its vectors); default: derived from the directory's path.
    """

    def __init__(self, directory: Path, *, client: Any = None, name: str | None = None) -> None:
        self._owns_client = client is None
        self._client = client if client is not None else _client(directory)
        self.name = name or default_collection_name(directory)
        self._open()

    def _open(self) -> None:
        self._collection = self._client.get_or_create_collection(
            self.name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        self._max_batch = int(self._client.get_max_batch_size())
        self._count = int(self._collection.count())

    @property
    def collection_id(self) -> str:
        """Chroma's id of the collection: a new one (the store was lost) has a new id."""
        return str(self._collection.id)

    def collections(self) -> list[str]:
        """Names of the index collections this client holds."""
        return [
            c if isinstance(c, str) else c.name
            for c in self._client.list_collections()
            if (c if isinstance(c, str) else c.name).startswith(COLLECTION_PREFIX)
        ]

    def use(self, name: str) -> None:
        """Switch to another existing collection of this client."""
        self.name = name
        self._open()

    def reset(self) -> None:
        """Drop every vector: the collection is deleted and made again (a new id)."""
        with contextlib.suppress(Exception):
            self._client.delete_collection(self.name)
        self._open()

    def close(self) -> None:
        """Release the local Chroma client (its files are closed when no index uses them)."""
        if self._owns_client:
            with contextlib.suppress(Exception):
                self._client.close()
            self._owns_client = False

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
