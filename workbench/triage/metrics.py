"""Triage scores: macro precision, recall and F1, per group and overall.

`overall` is the mean of the groups' macro scores when the tickets are grouped (the
NLBSE tool competition's cross-repo F1), else the macro scores of all tickets.
`per_label` is computed over all tickets together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def per_label(gold: Sequence[str], pred: Sequence[str | None]) -> dict[str, dict[str, Any]]:
    """Precision, recall, F1 and support of every gold label (a None prediction is a miss)."""
    labels = sorted(set(gold))
    out: dict[str, dict[str, Any]] = {}
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == lab and p != lab)
        p, r, f = _prf(tp, fp, fn)
        out[lab] = {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f, 4),
            "support": tp + fn,
        }
    return out


def macro(gold: Sequence[str], pred: Sequence[str | None]) -> dict[str, Any]:
    rows = per_label(gold, pred)
    n = max(1, len(rows))
    correct = sum(1 for g, p in zip(gold, pred, strict=True) if g == p)
    return {
        "precision": round(sum(r["precision"] for r in rows.values()) / n, 4),
        "recall": round(sum(r["recall"] for r in rows.values()) / n, 4),
        "f1": round(sum(r["f1"] for r in rows.values()) / n, 4),
        "accuracy": round(correct / len(gold), 4) if gold else 0.0,
        "n": len(gold),
    }


def triage_scores(
    gold: Sequence[str],
    pred: Sequence[str | None],
    groups: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """`{"overall": {...}, "groups": {name: {...}}, "per_label": {...}}` (see module doc)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    by_group: dict[str, dict[str, Any]] = {}
    if groups is not None and any(g is not None for g in groups):
        names = sorted({str(g) for g in groups})
        for name in names:
            idx = [i for i, g in enumerate(groups) if str(g) == name]
            by_group[name] = macro([gold[i] for i in idx], [pred[i] for i in idx])
    if by_group:
        k = len(by_group)
        overall: dict[str, Any] = {
            m: round(sum(g[m] for g in by_group.values()) / k, 4)
            for m in ("precision", "recall", "f1", "accuracy")
        }
        overall["n"] = len(gold)
        overall["averaged_over"] = "groups"
    else:
        overall = macro(gold, pred)
        overall["averaged_over"] = "labels"
    return {"overall": overall, "groups": by_group, "per_label": per_label(gold, pred)}
