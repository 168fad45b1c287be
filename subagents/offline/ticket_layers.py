"""The `layers` view of the ticket classifier: what every layer of MiniLM makes of a ticket.

The sentence embedding is the mean of the last layer's token states: it keeps what a
ticket is about and loses much of how it is written. The categories a team files tickets
under are often told apart by the writing as much as by the topic: a question asks, a bug
reports what happened, a feature request proposes. The lower layers keep more of that
(phrasing, mood, the shape of the text). This view reads the mean-pooled states of the six
layers, each L2-normalised, of the title and of the cleaned ticket, side by side
(2 x 6 x 384 numbers), with a logistic regression.

The encoder gives them with `encode_layers(texts)` ([n, 7, 384]: the embeddings, then the
six layers; `retrieval.Embedder` in the product, one pass of the same graph). An encoder
without it (a test double, another model) leaves the view out, and the fit's notes say so.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

USED = (1, 2, 3, 4, 5, 6)  # the transformer layers read (0 is the word embeddings)


def has_layers(encoder: Any) -> bool:
    return callable(getattr(encoder, "encode_layers", None))


class LayerFeatures:
    """Each text's per-layer pooled states, L2-normalised per layer and flattened; every
    distinct text is encoded once per classifier (kept as float16)."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str], *, keep: bool = True) -> np.ndarray:
        """[len(texts), 6 x 384] float32; `keep`: remember the texts' states for later calls."""
        keys = [hashlib.sha256(t.encode("utf-8", "replace")).hexdigest() for t in texts]
        known = {k: self._cache[k] for k in keys if k in self._cache}
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
        if todo:
            pools = np.asarray(self.encoder.encode_layers([t for _, t in todo]), dtype=np.float32)
            chosen = pools[:, list(USED)]
            chosen = chosen / np.maximum(np.linalg.norm(chosen, axis=-1, keepdims=True), 1e-9)
            for (k, _), v in zip(todo, chosen, strict=True):
                known[k] = v.reshape(-1).astype(np.float16)
                if keep:
                    self._cache[k] = known[k]
        if not texts:
            return np.zeros((0, len(USED) * 384), dtype=np.float32)
        return np.stack([known[k] for k in keys]).astype(np.float32)
