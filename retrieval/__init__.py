"""retrieval: documents, loaders, chunking, embeddings, BM25 + Chroma indexes, synthetic queries, eval.

Importing this package is cheap: onnxruntime (or torch), and chromadb load on first
use of `Embedder` / `HybridIndex`. Public names are resolved lazily through `__getattr__`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from retrieval.errors import IndexStateError, ModelIntegrityError, RetrievalError, UserInputError
from retrieval.types import Chunk, Document, Hit, LoadReport, Segment, SkippedFile

if TYPE_CHECKING:
    from retrieval.chunking import chunk_documents
    from retrieval.embedder import Embedder
    from retrieval.index import HybridIndex, UpdateStats
    from retrieval.loaders import load_corpus
    from retrieval.redact import Redactor
    from retrieval.synthetic import OfflineQueryGenerator

_LAZY = {
    "load_corpus": "retrieval.loaders",
    "chunk_documents": "retrieval.chunking",
    "Embedder": "retrieval.embedder",
    "HybridIndex": "retrieval.index",
    "UpdateStats": "retrieval.index",
    "OfflineQueryGenerator": "retrieval.synthetic",
    "Redactor": "retrieval.redact",
}

__all__ = [
    "Chunk",
    "Document",
    "Embedder",
    "Hit",
    "HybridIndex",
    "IndexStateError",
    "LoadReport",
    "ModelIntegrityError",
    "OfflineQueryGenerator",
    "Redactor",
    "RetrievalError",
    "Segment",
    "SkippedFile",
    "UpdateStats",
    "UserInputError",
    "chunk_documents",
    "load_corpus",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'retrieval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
