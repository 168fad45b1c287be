"""Deductive coding against the researchers' own coding: the PDPilot study in ../shared/bench.

    python benchmarks/deductive_coding.py --json [--engine offline] [--project DIR]

Runs the analysis of the study's seven transcripts twice in one project (one index):
inductively (the baseline: clustering themes) and deductively with a codebook of the
study's top-level codes and one-line descriptions (`benchmarks/data/pdpilot-codebook.yaml`,
written from the code names, not from the coded segments). Each run is scored with
`workbench eval coding` against the researchers' coded segments (`codes.json`). Prints
one JSON object: both runs' measures, per top-level code precision and recall of the
coded selections (the inductive themes stand for the code most of their findings hit),
macro averages, the same over the participants' words only (`--participants-only`:
findings an interviewer spoke left out), and the deductive run's figures as ratios of
the baseline's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STUDY = ROOT.parent / "shared" / "bench" / "coded-interviews" / "pdpilot"
CODEBOOK = ROOT / "benchmarks" / "data" / "pdpilot-codebook.yaml"
QUESTION = (
    "How do data scientists use PDP and ICE plots, and how did PDPilot help or get in the way "
    "of their model analysis?"
)


def _macro(per_code: dict[str, dict[str, Any]], key: str) -> float | None:
    values = [m[key] for m in per_code.values() if m[key] is not None]
    return round(sum(values) / len(values), 3) if values else None


def _run(project_dir: Path, engine: str, codebook: Path | None) -> dict[str, Any]:
    import workbench as wb
    from workbench.core.settings import Settings
    from workbench.evaluation.coding import evaluate_coding

    settings = Settings.load(project_dir / ".workbench" / "config.toml")
    if codebook is not None:
        settings = settings.model_copy(
            update={"analysis": settings.analysis.model_copy(update={"codebook": str(codebook)})}
        )
    project = wb.Project(project_dir, settings=settings)
    run = project.analyze(STUDY / "transcripts", QUESTION, engine=engine, on_event=lambda e: None)
    score = evaluate_coding(run.dir, STUDY / "codes.json")
    from subagents.offline.analyst import ANALYST_VERSION

    spoken = evaluate_coding(run.dir, STUDY / "codes.json", participants_only=True)
    score["participants_only"] = {
        "themed_findings": spoken["themed_findings"],
        "evidence_precision": spoken["evidence_precision"],
        "hm_purity": spoken["hm_purity"],
        "macro_precision": _macro(spoken["per_code"], "precision"),
        "macro_recall": _macro(spoken["per_code"], "recall"),
        "per_code": spoken["per_code"],
    }
    score.update(
        run_dir=str(run.dir),
        analyst=ANALYST_VERSION,
        findings=len(run.findings),
        macro_precision=_macro(score["per_code"], "precision"),
        macro_recall=_macro(score["per_code"], "recall"),
        candidate_codes=[t.label for t in run.synthesis.candidate_codes],
        method=run.synthesis.method,
    )
    return score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    ap.add_argument("--engine", default="offline", choices=["offline", "model"])
    ap.add_argument("--project", type=Path, default=None, help="reuse a project (its index)")
    ap.add_argument("--codebook", type=Path, default=CODEBOOK)
    args = ap.parse_args()
    if not (STUDY / "codes.json").is_file():
        sys.exit(f"not found: {STUDY}/codes.json (this benchmark needs ../shared)")
    project_dir = args.project or Path(tempfile.mkdtemp(prefix="deductive-"))
    baseline = _run(project_dir, args.engine, None)
    deductive = _run(project_dir, args.engine, args.codebook.resolve())
    ratios = {
        k: round(deductive[k] / baseline[k], 2) if baseline.get(k) else None
        for k in ("macro_precision", "macro_recall", "evidence_precision", "code_recall",
                  "hm_purity")
    }  # fmt: skip
    print(json.dumps({"inductive": baseline, "deductive": deductive, "ratio_vs_inductive": ratios}))


if __name__ == "__main__":
    main()
