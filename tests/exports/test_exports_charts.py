"""Chart programs: self-contained, house style, numbers with denominators, PNG 2x + SVG."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from exports.charts import (
    HOUSE_PALETTE,
    breakdown_chart_code,
    heatmap_chart_code,
    prevalence_chart_code,
    render_chart,
    run_chart_code,
    sentiment_chart_code,
    timeline_chart_code,
    write_chart_data,
)
from exports.errors import ChartCodeError, ExportInputError
from exports.style import prevalence_label

PREVALENCE = {
    "themes": [
        {"label": "Too many buttons confuse users", "n": 9, "total": 12},
        {"label": "Batteries and power", "n": 3, "total": 12},
        {"label": "Price", "n": 12, "total": 12},
    ],
    "note": "Produced by the offline engine (no language model was used).",
}
HEATMAP = {
    "themes": ["Buttons", "Battery"],
    "segments": ["Project Manager", "Marketing"],
    "segment_totals": [12, 10],
    "counts": [[3, 5], [12, 0]],
    "note": "offline engine",
}
SENTIMENT = {
    "themes": ["Buttons", "Battery"],
    "sentiments": ["negative", "neutral", "positive"],
    "counts": [[4, 2, 1], [0, 3, 6]],
    "note": "offline engine",
}
TIMELINE = {
    "periods": ["2024-Q1", "2024-Q2", "2024-Q3"],
    "period_totals": [10, 12, 8],
    "series": [{"label": "Buttons", "n": [2, 6, 7]}, {"label": "Battery", "n": [1, 1, 4]}],
    "note": "offline engine",
}
BREAKDOWN = {
    "bars": [
        {"label": "All meetings", "n": 9, "total": 12},
        {"label": "Marketing", "n": 7, "total": 12, "group": "segment"},
        {"label": "Industrial Designer", "n": 2, "total": 11, "group": "segment"},
    ],
    "subtitle": "Meetings in which each role raised it, of the meetings they took part in",
    "xlabel": "Share of meetings",
    "note": "offline engine",
}
# the standard library and the plotting stack only (os: the backend is left to a kernel)
ALLOWED_IMPORTS = {"json", "os", "textwrap", "matplotlib", "matplotlib.pyplot", "numpy"}


def _imports(code: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


@pytest.mark.parametrize(
    ("fn", "data"),
    [
        (prevalence_chart_code, PREVALENCE),
        (heatmap_chart_code, HEATMAP),
        (sentiment_chart_code, SENTIMENT),
        (timeline_chart_code, TIMELINE),
        (breakdown_chart_code, BREAKDOWN),
    ],
)
def test_chart_code_is_self_contained_and_writes_png_2x_and_svg(fn, data, tmp_path: Path) -> None:
    data_file = write_chart_data(data, tmp_path / "in" / "data.json")
    code = fn(str(data_file), stem="chart", title="A title")
    assert _imports(code) <= ALLOWED_IMPORTS
    assert HOUSE_PALETTE[0] in code  # the house style travels inside the program
    # a fresh interpreter, isolated mode, in an empty directory: only json + matplotlib + numpy
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code], cwd=work, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {
        "png": "chart.png",
        "svg": "chart.svg",
    }
    with Image.open(work / "chart.png") as im:
        dpi = im.info["dpi"]
        assert round(dpi[0]) == 200  # 2x of the usual 100 dpi
        assert im.size[0] > 1400
    svg = (work / "chart.svg").read_text()
    assert "A title" in svg  # text stays text in the SVG
    assert data["note"] in svg


def test_prevalence_bars_carry_n_of_n_with_denominators(tmp_path: Path) -> None:
    code = prevalence_chart_code(str(write_chart_data(PREVALENCE, tmp_path / "d.json")))
    files = run_chart_code(code, tmp_path / "out")
    svg = files.svg.read_text()
    for t in PREVALENCE["themes"]:
        assert prevalence_label(t["n"], t["total"]) in svg
    assert "9 of 12 (75%)" in svg and "3 of 12 (25%)" in svg
    assert files.png.name == "theme_prevalence.png"


def test_prevalence_highlight_and_heatmap_cells_show_counts(tmp_path: Path) -> None:
    data = dict(PREVALENCE, highlight="Batteries and power")
    svg = run_chart_code(
        prevalence_chart_code(str(write_chart_data(data, tmp_path / "d.json"))), tmp_path
    ).svg.read_text()
    assert "#9db8d3" in svg.lower()  # the other bars are muted
    heat = run_chart_code(
        heatmap_chart_code(str(write_chart_data(HEATMAP, tmp_path / "h.json"))), tmp_path
    ).svg.read_text()
    assert "12 of 12" in heat and "0 of 10" in heat and "(N=12)" in heat


def test_breakdown_shows_the_theme_then_its_parts_each_with_its_denominator(
    tmp_path: Path,
) -> None:
    svg = run_chart_code(
        breakdown_chart_code(str(write_chart_data(BREAKDOWN, tmp_path / "b.json")), title="Who"),
        tmp_path,
    ).svg.read_text()
    for b in BREAKDOWN["bars"]:
        assert prevalence_label(b["n"], b["total"]) in svg
    assert "2 of 11 (18%)" in svg  # each part keeps its own denominator
    assert BREAKDOWN["subtitle"][:40] in svg  # the chart says how to read it
    # drawn in the order given: the theme first, in the accent colour
    assert svg.index("All meetings") < svg.index("Marketing") < svg.index("Industrial Designer")
    assert HOUSE_PALETTE[0].lower() in svg.lower() and "#56b4e9" in svg.lower()
    bad = write_chart_data({"bars": [{"label": "x", "n": 3, "total": 2}]}, tmp_path / "x.json")
    with pytest.raises(ChartCodeError, match="bad counts"):
        run_chart_code(breakdown_chart_code(str(bad)), tmp_path)


def test_render_chart_keeps_code_and_data_beside_the_chart(tmp_path: Path) -> None:
    spec = render_chart("sentiment", SENTIMENT, tmp_path, chart_id="sent", title="Sentiment")
    for rel in (spec.png_path, spec.svg_path, spec.code_path, spec.data_path):
        assert rel is not None and (tmp_path / rel).is_file()
    # the kept code re-runs from its own folder (relative data path): the chart is reproducible
    code = (tmp_path / str(spec.code_path)).read_text()
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path / "charts",
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_bad_input_is_reported_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(ExportInputError, match="plain file name"):
        prevalence_chart_code("d.json", stem="../evil")
    with pytest.raises(ExportInputError, match="choose one of"):
        render_chart("pie", {}, tmp_path, chart_id="x", title="x")
    bad = write_chart_data({"themes": [{"label": "x", "n": 5, "total": 3}]}, tmp_path / "bad.json")
    with pytest.raises(ChartCodeError, match="bad counts"):
        run_chart_code(prevalence_chart_code(str(bad)), tmp_path)


def test_title_and_path_cannot_inject_code(tmp_path: Path) -> None:
    evil = 'x"; import os; os.system("touch pwned"); "'
    data = write_chart_data(PREVALENCE, tmp_path / "d.json")
    run_chart_code(prevalence_chart_code(str(data), title=evil), tmp_path)
    assert not (tmp_path / "pwned").exists()
