"""A fine-tuned view for the ticket classifier: MiniLM's top layers trained on the labels.

The frozen MiniLM embeddings with a linear model read a ticket as its general meaning;
trained on the team's labels, the encoder learns what separates its categories (a
classification head on the mean-pooled top layer, as in SetFit's end-to-end mode). To fit
in minutes on a CPU, only the top `train_layers` of the six layers are trained: the
lower layers' token states of each text are computed once (no gradient) and kept, keyed by
the text, so refits over the same tickets (cross-validation, the benchmark's folds) reuse
them.

It needs PyTorch and transformers (the optional `torch` extra); `tuner_available()` says
whether they import. The weights are the local all-MiniLM-L6-v2 files the embedder uses:
nothing is downloaded.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def tuner_available() -> str | None:
    """None when the fine-tuned view can run here, else why not (one line)."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return "PyTorch and transformers are not installed (the optional torch extra)"
    return None


@dataclass(frozen=True)
class TunerSettings:
    max_tokens: int = 128  # a ticket's title and opening, as MiniLM's tokens
    train_layers: int = 1  # of the six: the lower ones stay frozen and their states cached
    epochs: int = 3
    batch_size: int = 16
    lr: float = 2e-4  # the trained layers
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0
    threads: int | None = None  # torch threads; default the usable cores


class MiniLMTuner:
    """Fits classification heads on MiniLM (its top layers trained); shares one cache.

    `fit(texts, y, n_classes)` returns a fitted model with `predict_proba(texts)`.
    """

    def __init__(self, model_dir: Path, settings: TunerSettings | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.settings = settings or TunerSettings()
        self._base: Any = None
        self._tok: Any = None
        self._states: dict[str, Any] = {}  # text hash -> frozen token states (float16)

    def _load(self) -> None:
        if self._base is not None:
            return
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        torch.set_num_threads(self.settings.threads or max(1, len(os.sched_getaffinity(0))))
        self._tok = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        self._base = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True)
        self._base.eval()
        n = len(self._base.encoder.layer)
        if not 1 <= self.settings.train_layers <= n:
            raise ValueError(f"train_layers must be 1..{n}")

    @property
    def _frozen(self) -> int:
        return len(self._base.encoder.layer) - self.settings.train_layers

    def states(self, texts: Sequence[str], *, keep: bool = True) -> list[Any]:
        """Each text's token states under the frozen layers; `keep`: remember them."""
        import torch

        self._load()
        keys = [hashlib.sha256(t.encode("utf-8", "replace")).hexdigest() for t in texts]
        pending = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._states}.items()
        )
        fresh: dict[str, Any] = {}
        with torch.no_grad():
            for i in range(0, len(pending), 32):
                chunk = pending[i : i + 32]
                enc = self._tok(
                    [t for _, t in chunk],
                    truncation=True,
                    max_length=self.settings.max_tokens,
                    padding=True,
                    return_tensors="pt",
                )
                mask = enc["attention_mask"]
                h = self._base.embeddings(
                    input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"]
                )
                ext = _additive(mask)
                for layer in self._base.encoder.layer[: self._frozen]:
                    h = _out(layer(h, attention_mask=ext))
                for j, (k, _) in enumerate(chunk):
                    fresh[k] = h[j, : int(mask[j].sum())].to(torch.float16).clone()
        if keep:
            self._states.update(fresh)
        return [self._states[k] if k in self._states else fresh[k] for k in keys]

    def fit(self, texts: Sequence[str], y: np.ndarray, n_classes: int) -> TunedModel:
        import torch

        s = self.settings
        states = self.states(texts)
        torch.manual_seed(s.seed)
        top = copy.deepcopy(self._base.encoder.layer[self._frozen :])
        head = torch.nn.Linear(self._base.config.hidden_size, n_classes)
        model = TunedModel(self, top, head)
        opt = torch.optim.AdamW(
            [
                {"params": top.parameters(), "lr": s.lr},
                {"params": head.parameters(), "lr": s.head_lr},
            ],
            weight_decay=s.weight_decay,
        )
        per_epoch = int(np.ceil(len(texts) / s.batch_size))
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[s.lr, s.head_lr], total_steps=max(1, s.epochs * per_epoch), pct_start=0.1
        )
        target = torch.as_tensor(np.asarray(y), dtype=torch.long)
        rng = np.random.default_rng(s.seed)
        top.train()
        for _ in range(s.epochs):
            order = rng.permutation(len(texts))
            for i in range(0, len(order), s.batch_size):
                idx = order[i : i + s.batch_size]
                logits = model.logits([states[j] for j in idx])
                loss = torch.nn.functional.cross_entropy(logits, target[idx])
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                sched.step()
                opt.zero_grad()
        top.eval()
        return model


class TunedModel:
    def __init__(self, tuner: MiniLMTuner, top: Any, head: Any) -> None:
        self.tuner, self.top, self.head = tuner, top, head

    def logits(self, states: list[Any]) -> Any:
        import torch

        width = max(int(s.shape[0]) for s in states)
        h = torch.zeros(len(states), width, states[0].shape[1])
        mask = torch.zeros(len(states), width, dtype=torch.long)
        for i, s in enumerate(states):
            h[i, : s.shape[0]] = s.float()
            mask[i, : s.shape[0]] = 1
        ext = _additive(mask)
        for layer in self.top:
            h = _out(layer(h, attention_mask=ext))
        m = mask.unsqueeze(-1).float()
        return self.head((h * m).sum(1) / m.sum(1))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(texts), 64):
                states = self.tuner.states(texts[i : i + 64], keep=False)
                out.append(torch.softmax(self.logits(states), dim=-1).numpy())
        if not out:
            return np.zeros((0, int(self.head.out_features)))
        return np.concatenate(out).astype(np.float64)


def _additive(mask: Any) -> Any:
    """An attention mask as BERT layers add it: 0 where a token is, very negative elsewhere."""
    return (1.0 - mask[:, None, None, :].float()) * -1e9


def _out(result: Any) -> Any:
    return result[0] if isinstance(result, tuple) else result
