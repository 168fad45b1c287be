"""The chart-maker (offline engine): templated chart programs run in a real sandbox.

The numbers come from the findings and themes of the run; each chart keeps its data
file and the exact program that drew it beside the PNG and SVG, so it can be checked
and redrawn. The program runs in a sandbox (bubblewrap + Jupyter kernel locally, or E2B: the
project's `sandbox` setting, where "auto" means E2B when E2B_API_KEY is set) with no
network and no secrets, exactly as model-written chart code does.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exports.charts import (
    heatmap_chart_code,
    prevalence_chart_code,
    sentiment_chart_code,
    timeline_chart_code,
)
from exports.spec import ChartSpec
from subagents.findings import Finding, Synthesis
from workbench.errors import RunError

if TYPE_CHECKING:
    from workbench.pipeline import RunContext

_CODE = {
    "prevalence": prevalence_chart_code,
    "heatmap": heatmap_chart_code,
    "sentiment": sentiment_chart_code,
    "timeline": timeline_chart_code,
}
SENTIMENTS = ["positive", "mixed", "neutral", "negative"]
# document metadata that orders documents in time (meeting_part: a, b, c, d of an AMI series)
PERIOD_KEYS = ("period", "phase", "meeting_part", "date", "created_at", "month")


def chart_data(
    ctx: RunContext, findings: Sequence[Finding], synthesis: Synthesis
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(chart id, kind, title, data) for every chart this run can support."""
    note = ctx.engine_short
    noun = ctx.corpus.noun
    themes = synthesis.themes
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    if not themes:
        return out
    out.append(
        (
            "theme_prevalence",
            "prevalence",
            f"How many {noun} raise each theme",
            {
                "themes": [
                    {"label": t.label, "n": t.n_documents, "total": t.total_documents}
                    for t in themes
                ],
                "note": note,
            },
        )
    )
    fmap = {f.id: f for f in findings}
    # sentiment of each theme's findings
    counts = []
    for t in themes:
        c: Counter[str] = Counter(fmap[fid].sentiment for fid in t.finding_ids if fid in fmap)
        counts.append([c.get(s, 0) for s in SENTIMENTS])
    out.append(
        (
            "sentiment_by_theme",
            "sentiment",
            "Sentiment of the findings in each theme",
            {
                "themes": [t.label for t in themes],
                "sentiments": SENTIMENTS,
                "counts": counts,
                "note": note,
            },
        )
    )
    # segment x theme: who raises what (speaker roles, or a metadata column)
    seg = _segments(ctx, findings)
    if seg is not None:
        names, totals, doc_sets = seg
        hm_counts = []
        for t in themes:
            row = []
            for name in names:
                docs_here = {
                    fmap[fid].doc_id
                    for fid in t.finding_ids
                    if fid in fmap and name in _finding_segments(fmap[fid], ctx)
                }
                row.append(len(docs_here & doc_sets[name]))
            hm_counts.append(row)
        out.append(
            (
                "segment_theme_heatmap",
                "heatmap",
                "Which participants raise each theme",
                {
                    "themes": [t.label for t in themes],
                    "segments": names,
                    "segment_totals": totals,
                    "counts": hm_counts,
                    "note": note,
                },
            )
        )
    # themes over time, when documents carry a period
    period_of = _periods(ctx)
    if period_of:
        periods = sorted(set(period_of.values()))
        totals_p = [sum(1 for v in period_of.values() if v == p) for p in periods]
        series = []
        for t in themes:
            n = [len({d for d in t.doc_ids if period_of.get(d) == p}) for p in periods]
            series.append({"label": t.label, "n": n})
        out.append(
            (
                "themes_over_time",
                "timeline",
                "Themes over time",
                {"periods": periods, "period_totals": totals_p, "series": series, "note": note},
            )
        )
    return out


def _finding_segments(f: Finding, ctx: RunContext) -> set[str]:
    return {e.speaker for e in f.evidence if e.speaker}


def _segments(
    ctx: RunContext, findings: Sequence[Finding]
) -> tuple[list[str], list[int], dict[str, set[str]]] | None:
    docs_with: dict[str, set[str]] = defaultdict(set)
    for d in ctx.corpus.documents:
        for s in d.segments:
            if s.speaker:
                docs_with[s.speaker].add(d.id)
    if not 2 <= len(docs_with) <= 12:
        return None
    names = sorted(docs_with, key=lambda n: (-len(docs_with[n]), n))[:8]
    return names, [len(docs_with[n]) for n in names], {n: docs_with[n] for n in names}


def _periods(ctx: RunContext) -> dict[str, str]:
    for key in PERIOD_KEYS:
        vals = {
            d.id: str(d.metadata[key])
            for d in ctx.corpus.documents
            if d.metadata.get(key) is not None
        }
        if len(vals) == len(ctx.corpus.documents) and 2 <= len(set(vals.values())) <= 24:
            return vals
    return {}


def make_charts(
    ctx: RunContext, findings: Sequence[Finding], synthesis: Synthesis
) -> list[ChartSpec]:
    """Draw every chart in one sandbox; write data, code, PNG and SVG under charts/."""
    return draw_charts(
        ctx.store.dir,
        chart_data(ctx, findings, synthesis),
        run_id=ctx.store.run_id,
        backend=ctx.settings.sandbox,
    )


def draw_charts(
    run_dir: Path,
    specs: Sequence[tuple[str, str, str, dict[str, Any]]],
    *,
    run_id: str = "",
    backend: str = "auto",
) -> list[ChartSpec]:
    """Draw (chart id, kind, title, data) charts in one sandbox (the settings' backend),
    into `run_dir/charts/`."""
    from sandboxes import create_sandbox

    if not specs:
        return []
    folder = run_dir / "charts"
    folder.mkdir(exist_ok=True)
    charts: list[ChartSpec] = []
    with (
        tempfile.TemporaryDirectory(prefix="wb-charts-") as tmp,
        create_sandbox(work_dir=Path(tmp), backend=backend) as sb,
    ):
        for chart_id, kind, title, data in specs:
            data_name = f"{chart_id}.json"
            code = _CODE[kind](data_name, stem=chart_id, title=title)
            payload = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
            (folder / data_name).write_bytes(payload)
            (folder / f"{chart_id}.py").write_text(code, encoding="utf-8")
            sb.files.write(data_name, payload)
            ex = sb.run_code(code, timeout=120)
            if ex.error is not None:
                raise RunError(
                    f"chart {chart_id} failed in the sandbox: {ex.error.name}: {ex.error.value}",
                    run_id=run_id or None,
                    stage="charts",
                    task=chart_id,
                )
            for ext in ("png", "svg"):
                (folder / f"{chart_id}.{ext}").write_bytes(
                    sb.files.read(f"{chart_id}.{ext}", format="bytes")
                )
            charts.append(
                ChartSpec(
                    id=chart_id,
                    title=title,
                    png_path=f"charts/{chart_id}.png",
                    svg_path=f"charts/{chart_id}.svg",
                    code_path=f"charts/{chart_id}.py",
                    data_path=f"charts/{data_name}",
                    alt_text=_alt_text(kind, title, data),
                )
            )
    return charts


def _alt_text(kind: str, title: str, data: dict[str, Any]) -> str:
    if kind == "prevalence":
        parts = [f"{t['label']}: {t['n']} of {t['total']}" for t in data["themes"]]
        return f"{title}. " + "; ".join(parts)
    return title
