"""A deterministic stand-in encoder: hashed bag of words, L2-normalised (no model load).

Real MiniLM runs in the end-to-end tests; the classifier's own tests need only vectors
that put texts sharing words near each other.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

DIM = 64


class HashingEncoder:
    name = "hashing-test-encoder"
    dimension = DIM

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                h = int(hashlib.md5(w.encode()).hexdigest()[:8], 16)
                out[i, h % DIM] += 1.0 if (h >> 8) % 2 else -1.0
            n = float(np.linalg.norm(out[i]))
            if n:
                out[i] /= n
        return out


class LayeredHashingEncoder(HashingEncoder):
    """`HashingEncoder` that also gives per-layer states (`encode_layers`): layer k hashes
    the words with salt k, and the last layer is `encode`'s vector before normalising, as
    in the real model."""

    name = "layered-hashing-test-encoder"

    def __init__(self) -> None:
        super().__init__()
        self.layer_texts: list[str] = []

    def encode_layers(self, texts: list[str]) -> np.ndarray:
        self.layer_texts.extend(texts)
        out = np.zeros((len(texts), 7, DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            for k in range(7):
                for w in re.findall(r"\w+", t.lower()):
                    salt = b"" if k == 6 else bytes([k])
                    h = int(hashlib.md5(salt + w.encode()).hexdigest()[:8], 16)
                    out[i, k, h % DIM] += 1.0 if (h >> 8) % 2 else -1.0
        return out
