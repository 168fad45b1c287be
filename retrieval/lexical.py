"""A BM25 index (bm25s) over pre-tokenised texts, with top-k under an optional row mask."""

from __future__ import annotations

import numpy as np


class LexicalIndex:
    def __init__(self, corpus_tokens: list[list[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        self.size = len(corpus_tokens)
        self._bm25 = None
        if self.size:
            self._bm25 = bm25s.BM25(k1=k1, b=b)
            self._bm25.index([t if t else [""] for t in corpus_tokens], show_progress=False)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if self._bm25 is None:
            return np.zeros(0, dtype=np.float32)
        vocab = self._bm25.vocab_dict
        ids = [vocab[t] for t in dict.fromkeys(query_tokens) if t in vocab and t]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(ids), dtype=np.float32)

    def top(self, query_tokens: list[str], n: int, mask: np.ndarray | None = None) -> list[int]:
        return [row for row, _ in self.top_scored(query_tokens, n, mask)]

    def top_scored(
        self, query_tokens: list[str], n: int, mask: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        scores = self.scores(query_tokens)
        if scores.size == 0:
            return []
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        positive = int((scores > 0).sum())
        n = min(n, positive)
        if n <= 0:
            return []
        idx = np.argpartition(-scores, n - 1)[:n]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(int(i), float(scores[i])) for i in idx]
