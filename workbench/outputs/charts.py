"""The chart stage: the chart-maker's charts (`subagents.offline.charts`) drawn by
templated chart programs in a real sandbox.

Each chart keeps its data file and the exact program that drew it beside the PNG and SVG,
so it can be checked and redrawn. The program runs in the sandbox the run is handed
(`RunContext.sandbox`), else one of the project's `sandbox` setting (bubblewrap + Jupyter
kernel locally, or E2B; "auto" means E2B when E2B_API_KEY is set) with no network and no
secrets, exactly as model-written chart code does.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exports.charts import (
    breakdown_chart_code,
    heatmap_chart_code,
    prevalence_chart_code,
    sentiment_chart_code,
    timeline_chart_code,
)
from exports.spec import ChartSpec
from subagents.findings import Finding, Synthesis
from subagents.offline.charts import plan_charts
from workbench.core.errors import RunError

if TYPE_CHECKING:
    from workbench.runs.context import RunContext

_CODE = {
    "breakdown": breakdown_chart_code,
    "prevalence": prevalence_chart_code,
    "heatmap": heatmap_chart_code,
    "sentiment": sentiment_chart_code,
    "timeline": timeline_chart_code,
}


def chart_data(
    ctx: RunContext, findings: Sequence[Finding], synthesis: Synthesis
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(chart id, kind, title, data) for every chart this run supports (`plan_charts`)."""
    return plan_charts(ctx.corpus, findings, synthesis, note=ctx.engine_short)


def make_charts(
    ctx: RunContext, findings: Sequence[Finding], synthesis: Synthesis
) -> list[ChartSpec]:
    """Draw every chart in one sandbox; write data, code, PNG and SVG under charts/."""
    return draw_charts(
        ctx.store.dir,
        chart_data(ctx, findings, synthesis),
        run_id=ctx.store.run_id,
        backend=ctx.settings.sandbox,
        sandbox=ctx.sandbox,
    )


def draw_charts(
    run_dir: Path,
    specs: Sequence[tuple[str, str, str, dict[str, Any]]],
    *,
    run_id: str = "",
    backend: str = "auto",
    sandbox: Callable[[Path], Any] | None = None,
) -> list[ChartSpec]:
    """Draw (chart id, kind, title, data) charts in one sandbox (`sandbox(work_dir)` when
    handed one, else one of the settings' `backend`), into `run_dir/charts/`."""
    from sandboxes import create_sandbox

    def of_backend(work_dir: Path) -> Any:
        return create_sandbox(work_dir=work_dir, backend=backend)

    make = sandbox or of_backend

    if not specs:
        return []
    folder = run_dir / "charts"
    folder.mkdir(exist_ok=True)
    charts: list[ChartSpec] = []
    with (
        tempfile.TemporaryDirectory(prefix="wb-charts-") as tmp,
        make(Path(tmp)) as sb,
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
                    caption=str(data.get("caption", "")),
                )
            )
    return charts


def _alt_text(kind: str, title: str, data: dict[str, Any]) -> str:
    if kind == "prevalence":
        parts = [f"{t['label']}: {t['n']} of {t['total']}" for t in data["themes"]]
        return f"{title}. " + "; ".join(parts)
    if kind == "breakdown":
        parts = [f"{b['label']}: {b['n']} of {b['total']}" for b in data["bars"]]
        return f"{title}. " + "; ".join(parts)
    return title
