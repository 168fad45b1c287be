"""Offline triage on the NLBSE'24 issue reports: cross-validated F1 per repository.

    python benchmarks/triage_nlbse.py --json [--folds 5] [--pooled] [--tune] [--previous]
        [--limit N] [--data CSV]

Reads `<repo>/../shared/corpora/nlbse24-issues/train.csv` (1,500 GitHub issues, five
repositories, bug / feature / question), splits each repository's issues into `--folds`
stratified folds (seeded), learns from the other folds and labels the held-out one with
the offline engine (`--group-column repo`: each repository's own models beside the
pooled ones; `--pooled` turns that off). Prints one JSON object:

- `f1`: macro F1 per repository and `overall` (their mean: the competition's cross-repo
  F1), with precision and recall; `accuracy`;
- `seconds`: `first_fold` (cold: embeds all 1,500 issues, learns from 1,200, labels 300),
  `per_fold` and `total` (wall clock), with the CPU seconds the engine used (`cpu_*`; the
  baseline's and the previous stack's are counted apart):
  on a machine other jobs keep busy, wall time says more about them than about triage;
- `review`: at the default threshold, the share of issues sent to review and the
  accuracy of the rest; `calibration`: expected calibration error of the confidences;
- `baseline`: a single TF-IDF + logistic regression model on the same folds, measured in
  the same run (its F1 and CPU seconds), and `ratio_vs_baseline` of the overall F1;
- `previous_stack` (with `--previous`): the stack of `linear-triage/3` (embed, words,
  chars and structure views; stacker weights per repository, C 0.03: today's without the
  layers view) on the same folds and embeddings, and `ratio_vs_previous_stack`;
- `published`: the competition's baselines on its unseen test split (not like for like:
  they are test-split figures, these are cross-validation on the training split).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PUBLISHED = {
    "source": "NLBSE'24 tool competition, issue report classification: baselines on its test "
    "split, cross-repo F1 (mean of the five repositories' macro F1)",
    "SetFit": 0.824,
    "RoBERTa": 0.792,
    "fastText": 0.718,
}


class CachedEncoder:
    """Embeds each distinct text once for the whole benchmark (folds share tickets)."""

    def __init__(self) -> None:
        from retrieval import Embedder

        self.embedder = Embedder()
        self.cache: dict[str, Any] = {}
        self.layer_cache: dict[str, Any] = {}
        self.encoded = 0
        self.layers_encoded = 0

    def encode_layers(self, texts: list[str]) -> Any:
        import numpy as np

        todo = sorted({t for t in texts if t not in self.layer_cache})
        if todo:
            for t, v in zip(todo, self.embedder.encode_layers(todo), strict=True):
                self.layer_cache[t] = v.astype(np.float16)
            self.layers_encoded += len(todo)
        return np.stack([self.layer_cache[t] for t in texts]).astype(np.float32)

    def encode(self, texts: list[str]) -> Any:
        import numpy as np

        todo = sorted({t for t in texts if t not in self.cache})
        if todo:
            for t, v in zip(todo, self.embedder.encode(todo), strict=True):
                self.cache[t] = v
            self.encoded += len(todo)
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384))


def folds_of(labels: list[str], groups: list[str | None], k: int, seed: int) -> list[int]:
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    fold = [0] * len(labels)
    for g in sorted({str(x) for x in groups}):
        idx = [i for i, x in enumerate(groups) if str(x) == g]
        skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        ys = np.array([labels[i] for i in idx])
        for f, (_, te) in enumerate(skf.split(np.zeros(len(idx)), ys)):
            for j in te:
                fold[idx[j]] = f
    return fold


def subset(ls: Any, idx: list[int]) -> Any:
    from dataclasses import replace

    return replace(
        ls,
        documents=[ls.documents[i] for i in idx],
        labels=[ls.labels[i] for i in idx],
        groups=[ls.groups[i] for i in idx],
    )


def baseline_predict(train: Any, test: Any) -> list[str]:
    """One TF-IDF (word 1-2-grams) + logistic regression model, pooled."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from workbench.triage.labelled import ticket_text

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    xa = vec.fit_transform([ticket_text(d) for d in train.documents])
    xb = vec.transform([ticket_text(d) for d in test.documents])
    model = LogisticRegression(C=10, max_iter=3000).fit(xa, train.labels)
    return [str(p) for p in model.predict(xb)]


def ece(conf: list[float], right: list[bool], bins: int = 10) -> float:
    total = len(conf)
    err = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(conf) if lo < c <= hi or (b == 0 and c == 0)]
        if idx:
            acc = sum(right[i] for i in idx) / len(idx)
            avg = sum(conf[i] for i in idx) / len(idx)
            err += len(idx) / total * abs(acc - avg)
    return round(err, 4)


def compared(name: str, what: str, other: Any, scores: Any, **extra: Any) -> dict[str, Any]:
    """`name`: another model's F1 overall and per repository, on the same folds, with the
    ratio of the engine's F1 to it (`ratio_vs_<name>`)."""
    return {
        name: {
            "what": what,
            "f1": other["overall"]["f1"],
            "per_repo": {g.split("/")[-1]: v["f1"] for g, v in other["groups"].items()},
            **extra,
        },
        f"ratio_vs_{name}": round(scores["overall"]["f1"] / max(1e-9, other["overall"]["f1"]), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, default=REPO.parent / "shared/corpora/nlbse24-issues/train.csv"
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pooled", action="store_true", help="no per-repository models")
    ap.add_argument("--limit", type=int, default=None, help="only the first N folds")
    ap.add_argument("--tune", action="store_true", help="add the fine-tuned view (needs PyTorch)")
    ap.add_argument(
        "--previous", action="store_true", help="also score linear-triage/3's stack, same folds"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.data.is_file():
        sys.exit(f"benchmark data not found: {args.data} (the shared corpora sit beside the repo)")

    from subagents.offline.triage import ClassifierSettings
    from workbench.core.settings import TriageSettings
    from workbench.triage.labelled import DEFAULT_COLUMNS, load_labelled
    from workbench.triage.metrics import triage_scores
    from workbench.triage.offline import OfflineTriager, default_tuner, ticket_input

    settings = TriageSettings(per_group=not args.pooled, fine_tune=args.tune)
    tuner, tuner_note = default_tuner(settings)  # one for all folds: frozen states reused
    t_load = time.perf_counter()
    ls = load_labelled(args.data, label_column="label", group_column="repo")
    t_load = time.perf_counter() - t_load
    fold = folds_of(ls.labels, ls.groups, args.folds, args.seed)
    encoder = CachedEncoder()
    n = len(ls.labels)
    pred: list[str | None] = [None] * n
    conf = [0.0] * n
    flagged = [False] * n
    base: list[str | None] = [None] * n
    lin: list[str | None] = [None] * n  # the stack without the fine-tuned view
    lin_conf = [0.0] * n
    prev: list[str | None] = [None] * n  # linear-triage/3's stack (--previous)
    previous = ClassifierSettings(
        views=("embed", "words", "chars", "structure"),
        group_views=("embed", "structure"),
        per_group=not args.pooled,
    )
    per_fold: list[float] = []
    cpu_fold: list[float] = []
    cpu_base = 0.0
    cpu_prev = 0.0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for f in range(args.folds if args.limit is None else min(args.limit, args.folds)):
        tr = [i for i in range(n) if fold[i] != f]
        te = [i for i in range(n) if fold[i] == f]
        t, c = time.perf_counter(), time.process_time()
        triager = OfflineTriager(encoder, settings, group_column="repo", tuner=tuner)
        triager.fit(subset(ls, tr))
        labels = triager.label([ls.documents[i] for i in te])
        per_fold.append(round(time.perf_counter() - t, 2))
        cpu_fold.append(round(time.process_time() - c, 2))
        for i, lab in zip(te, labels, strict=True):
            pred[i], conf[i], flagged[i] = lab.predicted, lab.confidence, bool(lab.flags)
        clf = triager.classifier
        linear = clf.predict_linear(
            [ticket_input(ls.documents[i], DEFAULT_COLUMNS, ls.groups[i]) for i in te]
        )
        for k, i in enumerate(te):
            if linear is None:
                lin[i], lin_conf[i] = pred[i], conf[i]
            else:
                j = int(linear[k].argmax())
                lin[i], lin_conf[i] = clf.classes[j], float(linear[k, j])
        c = time.process_time()
        for i, p in zip(te, baseline_predict(subset(ls, tr), subset(ls, te)), strict=True):
            base[i] = p
        cpu_base += time.process_time() - c
        if args.previous:
            c = time.process_time()
            old = OfflineTriager(encoder, settings, group_column="repo", classifier=previous)
            old.fit(subset(ls, tr))
            for i, lab in zip(te, old.label([ls.documents[i] for i in te]), strict=True):
                prev[i] = lab.predicted
            cpu_prev += time.process_time() - c
        print(
            f"fold {f}: {per_fold[-1]:.1f}s wall, {cpu_fold[-1]:.1f}s cpu",
            file=sys.stderr,
            flush=True,
        )
    total = time.perf_counter() - t0
    cpu_total = time.process_time() - c0 - cpu_base - cpu_prev
    done = [i for i in range(n) if pred[i] is not None]
    gold = [ls.labels[i] for i in done]
    groups = [ls.groups[i] for i in done]
    scores = triage_scores(gold, [pred[i] for i in done], groups)
    bscores = triage_scores(gold, [base[i] for i in done], groups)
    lscores = triage_scores(gold, [lin[i] for i in done], groups)
    thr = settings.review_threshold
    keep = [i for i in done if conf[i] >= thr and not flagged[i]]
    right = [pred[i] == ls.labels[i] for i in done]
    out = {
        "benchmark": "triage_nlbse",
        "data": "nlbse24-issues/train.csv",
        "issues": len(done),
        "folds": args.folds,
        "per_group": not args.pooled,
        "fine_tuned_view": tuner is not None,
        "notes": ([tuner_note] if tuner_note else [])
        + (triager.report.notes if per_fold and triager.report else []),
        "f1": {
            "overall": scores["overall"]["f1"],
            "precision": scores["overall"]["precision"],
            "recall": scores["overall"]["recall"],
            "per_repo": {g.split("/")[-1]: v["f1"] for g, v in scores["groups"].items()},
        },
        "accuracy": scores["overall"]["accuracy"],
        "per_label": scores["per_label"],
        "seconds": {
            "first_fold": per_fold[0] if per_fold else None,
            "per_fold": per_fold,
            "total": round(total, 2),
            "cpu_first_fold": cpu_fold[0] if cpu_fold else None,
            "cpu_total": round(cpu_total, 2),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "load": round(t_load, 2),
            "cores": os.cpu_count(),
            "texts_embedded": encoder.encoded,
            "texts_layer_encoded": encoder.layers_encoded,
        },
        "review": {
            "threshold": thr,
            "sent_to_review": round(1 - len(keep) / max(1, len(done)), 4),
            "accuracy_of_the_rest": round(
                sum(pred[i] == ls.labels[i] for i in keep) / max(1, len(keep)), 4
            ),
        },
        "calibration": {"ece": ece([conf[i] for i in done], right)},
        **compared(
            "baseline",
            "TF-IDF word 1-2-grams + logistic regression, pooled, same folds",
            bscores,
            scores,
            cpu_total=round(cpu_base, 2),
        ),
        **compared(
            "linear_stack",
            "the same stack without the fine-tuned view (its own stacker, same fits)",
            lscores,
            scores,
            calibration_ece=ece(
                [lin_conf[i] for i in done], [lin[i] == ls.labels[i] for i in done]
            ),
            sent_to_review=round(
                sum(1 for i in done if lin_conf[i] < thr or flagged[i]) / max(1, len(done)), 4
            ),
        ),
        **(
            compared(
                "previous_stack",
                "linear-triage/3: embed, words, chars, structure; no layers view",
                triage_scores(gold, [prev[i] for i in done], groups),
                scores,
                cpu_total=round(cpu_prev, 2),
            )
            if args.previous
            else {}
        ),
        "published": PUBLISHED,
    }
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
