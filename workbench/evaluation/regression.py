"""Regression runs: reports stored per version, and comparisons with bootstrap intervals.

    store = RegressionStore(project / ".workbench" / "evals")
    store.save(report, version="0.3.0")          # evals/<golden>/<version>.json
    diff = compare(store.load("0.2.0"), report)
    diff.regressions                              # metrics that got worse beyond the interval

`compare` pairs items by id. For each metric it reports both means, the change, and a
paired bootstrap percentile interval of the change of the mean (resampling items,
`n_boot` times, fixed seed, so the same inputs give the same interval). A metric
regresses when the whole interval lies below zero (it got worse and the drop is not
explainable by which items happened to be in the set). Quote faithfulness is a hard
gate instead: any value below 1.0 in the new run is a regression.

The rubric judge's scores (`judge_*`) gate only when both reports carry a judge that
was calibrated against human labels and trusted (`EvalReport.judge_trusted is True`);
an uncalibrated or untrusted judge's changes are reported, never gated.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from workbench.core.errors import UserError
from workbench.evaluation.runner import EvalReport, ItemResult
from workbench.runs.store import atomic_write_json

HIGHER_IS_BETTER = (
    "evidence_hit",
    "evidence_recall",
    "document_recall",
    "quote_faithfulness",
    "rouge1",
    "rouge2",
    "rougeL",
    "answered",
    "theme_coverage",
)
LOWER_IS_BETTER = ("latency_s", "cost_usd")
HARD_GATES = {"quote_faithfulness": 1.0}


class MetricChange(BaseModel):
    metric: str
    a: float | None
    b: float | None
    delta: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0  # paired items
    regression: bool = False
    gated: bool = True  # False for informational metrics (latency, cost)


class ItemChange(BaseModel):
    id: str
    metric: str
    a: float | None
    b: float | None


class Comparison(BaseModel):
    a: str  # label of the baseline
    b: str  # label of the candidate
    confidence: float
    metrics: list[MetricChange]
    items: list[ItemChange] = Field(default_factory=list)
    only_in_a: list[str] = Field(default_factory=list)
    only_in_b: list[str] = Field(default_factory=list)
    judge_note: str | None = None  # why the judge's scores do not gate, when they do not

    @property
    def regressions(self) -> list[MetricChange]:
        return [m for m in self.metrics if m.regression]

    def render(self) -> str:
        lines = [f"{self.a} -> {self.b} ({self.confidence:.0%} bootstrap intervals of the change)"]
        for m in self.metrics:
            if m.a is None and m.b is None:
                continue
            ci = (
                f"[{m.ci_low:+.3f}, {m.ci_high:+.3f}]"
                if m.ci_low is not None and m.ci_high is not None
                else ""
            )
            flag = "  REGRESSION" if m.regression else ""
            lines.append(
                f"  {m.metric:<20} {_f(m.a)} -> {_f(m.b)}  {_f(m.delta, sign=True)} {ci}{flag}"
            )
        if self.items:
            lines.append(f"per-item changes ({len(self.items)}):")
            for c in self.items[:50]:
                lines.append(f"  {c.id:<24} {c.metric:<18} {_f(c.a)} -> {_f(c.b)}")
            if len(self.items) > 50:
                lines.append(f"  ... {len(self.items) - 50} more (use --json)")
        if self.only_in_a or self.only_in_b:
            lines.append(
                f"items only in A: {len(self.only_in_a)}, only in B: {len(self.only_in_b)}"
            )
        if self.judge_note:
            lines.append(f"judge scores are not gated: {self.judge_note}")
        return "\n".join(lines)


def _f(v: float | None, sign: bool = False) -> str:
    if v is None:
        return "  n/a"
    return f"{v:+.3f}" if sign else f"{v:.3f}"


def bootstrap_ci(
    values: np.ndarray, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values`."""
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def compare(
    a: EvalReport,
    b: EvalReport,
    *,
    label_a: str | None = None,
    label_b: str | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Comparison:
    """Per-metric change from `a` (baseline) to `b` with paired bootstrap intervals."""
    label_a = label_a or f"{a.golden}@{a.version}"
    label_b = label_b or f"{b.golden}@{b.version}"
    items_a = {i.id: i for i in a.items}
    items_b = {i.id: i for i in b.items}
    common = [i for i in items_a if i in items_b]
    names = [n for n in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER) if n in a.overall or n in b.overall]
    extra = sorted({k for r in (a, b) for k in r.overall if k.startswith("judge_")})
    judge_note = _judge_note(a, b, label_a, label_b) if extra else None
    changes: list[MetricChange] = []
    for name in [*names, *extra]:
        pairs = [
            (va, vb)
            for i in common
            if (va := _item_value(items_a[i], name)) is not None
            and (vb := _item_value(items_b[i], name)) is not None
        ]
        ma, mb = a.overall.get(name), b.overall.get(name)
        gated = name in HIGHER_IS_BETTER or (name in extra and judge_note is None)
        change = MetricChange(
            metric=name,
            a=ma,
            b=mb,
            delta=round(mb - ma, 4) if ma is not None and mb is not None else None,
            n=len(pairs),
            gated=gated,
        )
        if pairs:
            diffs = np.array([vb - va for va, vb in pairs], dtype=float)
            lo, hi = bootstrap_ci(diffs, n_boot=n_boot, confidence=confidence, seed=seed)
            change.ci_low, change.ci_high = round(lo, 4), round(hi, 4)
            if gated:
                change.regression = hi < 0
        gate = HARD_GATES.get(name)
        if gate is not None and mb is not None and mb < gate:
            change.regression = True
        changes.append(change)
    item_changes = []
    for i in common:
        for name in names:
            va, vb = items_a[i].metrics.get(name), items_b[i].metrics.get(name)
            if name in LOWER_IS_BETTER:
                continue
            if va != vb and (va is None or vb is None or abs(va - vb) > 1e-9):
                item_changes.append(ItemChange(id=i, metric=name, a=va, b=vb))
    return Comparison(
        a=label_a,
        b=label_b,
        confidence=confidence,
        metrics=changes,
        items=item_changes,
        only_in_a=[i for i in items_a if i not in items_b],
        only_in_b=[i for i in items_b if i not in items_a],
        judge_note=judge_note,
    )


def _item_value(item: ItemResult, name: str) -> float | None:
    if name.startswith("judge_"):
        return (item.judge or {}).get(name.removeprefix("judge_"))
    return item.metrics.get(name)


def _judge_note(a: EvalReport, b: EvalReport, label_a: str, label_b: str) -> str | None:
    """None when the judge gates (trusted in both reports), else why it does not."""
    problems = []
    for label, r in ((label_a, a), (label_b, b)):
        if not any(k.startswith("judge_") for k in r.overall):
            problems.append(f"{label} has no judge scores")
        elif r.judge_trusted is False:
            reason = r.judge_calibration.reason if r.judge_calibration else "below agreement"
            problems.append(f"{label}'s judge is untrusted ({reason})")
        elif r.judge_trusted is None:
            problems.append(f"{label}'s judge is not calibrated against human labels")
    return "; ".join(problems) or None


_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


class RegressionStore:
    """Reports kept as `<dir>/<golden name>/<version>.json` (written atomically)."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)

    def path_for(self, golden: str, version: str) -> Path:
        return self.dir / _SAFE.sub("_", golden) / f"{_SAFE.sub('_', version)}.json"

    def save(self, report: EvalReport, version: str | None = None) -> Path:

        path = self.path_for(report.golden, version or report.version)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, report.model_dump(mode="json"), indent=1)
        return path

    def versions(self, golden: str | None = None) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if not self.dir.is_dir():
            return out
        for d in sorted(p for p in self.dir.iterdir() if p.is_dir()):
            if golden is None or d.name == _SAFE.sub("_", golden):
                out[d.name] = sorted(p.stem for p in d.glob("*.json"))
        return out

    def load(self, ref: str | Path, golden: str | None = None) -> EvalReport:
        """A report by file path, or by version name (searched in every golden set's folder)."""
        p = Path(ref)
        if p.suffix == ".json" and p.exists():
            return load_report(p)
        found = [
            self.path_for(g, str(ref))
            for g, versions in self.versions(golden).items()
            if _SAFE.sub("_", str(ref)) in versions
        ]
        if not found:
            known = {g: v for g, v in self.versions(golden).items()}
            raise UserError(
                f"no stored evaluation {str(ref)!r} in {self.dir}; stored: {known or 'none'}. "
                "Give a report file or a version saved with `workbench eval analysis --save-version`."
            )
        if len(found) > 1:
            raise UserError(
                f"version {str(ref)!r} exists for several golden sets ({[f.parent.name for f in found]}); "
                "pass --golden NAME"
            )
        return load_report(found[0])


def load_report(path: str | Path) -> EvalReport:
    p = Path(path)
    try:
        data: Any = json.loads(p.read_text(encoding="utf-8"))
        return EvalReport.model_validate(data)
    except OSError as e:
        raise UserError(f"cannot read {p}: {e.strerror or e}") from e
    except ValueError as e:
        raise UserError(
            f"{p} is not an evaluation report written by `workbench eval analysis`: {e}"
        ) from e
