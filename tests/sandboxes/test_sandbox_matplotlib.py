"""E2B's chart contract on the real LocalSandbox: `plt.show()` is a PNG result.

In E2B's code interpreter a chart shown with `plt.show()` comes back as one PNG result,
with no `%matplotlib inline` in the code, and a reset (`restart_code_context`) starts
from a fresh interpreter. The local kernel keeps the same contract: also after the
workbench's own chart programs ran in the same kernel, and after a reset that follows
code which switched matplotlib's backend or style.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from exports.charts import prevalence_chart_code
from sandboxes import LocalSandbox, SandboxLimits

# what a model writes for the chart-maker: read the table, draw, save, show
MODEL_CHART = """
import json
import matplotlib.pyplot as plt

rows = json.load(open("counts.json"))
fig, ax = plt.subplots(figsize=(6, 3))
ax.barh([r["label"] for r in rows], [r["n"] for r in rows])
ax.set_xlabel("documents (of 6)")
fig.savefig("chart.png")
plt.show()
"""
COUNTS = [{"label": "Batteries", "n": 4}, {"label": "Price", "n": 2}]


@pytest.fixture()
def sb(tmp_path: Path, limits: SandboxLimits) -> Iterator[LocalSandbox]:
    with LocalSandbox(work_dir=tmp_path / "work", limits=limits) as box:
        box.files.write("counts.json", json.dumps(COUNTS))
        yield box


def _pngs(ex: object) -> list[bytes]:
    results = getattr(ex, "results", [])
    return [base64.b64decode(r.png) for r in results if r.png]


def _model_chart(sb: LocalSandbox) -> list[bytes]:
    sb.files.write("counts.json", json.dumps(COUNTS))
    ex = sb.run_code(MODEL_CHART, timeout=60)
    assert ex.error is None, ex.error
    assert sb.files.read("chart.png", format="bytes").startswith(b"\x89PNG")
    return _pngs(ex)


def test_plt_show_is_one_png_result_without_any_magic(sb: LocalSandbox) -> None:
    pngs = _model_chart(sb)
    assert len(pngs) == 1 and pngs[0].startswith(b"\x89PNG")


def test_the_workbench_chart_programs_leave_the_kernel_showing_charts(sb: LocalSandbox) -> None:
    """The chart stage runs its templated programs in the sandbox first; a model-written
    chart after them still comes back as a PNG (they used to switch the kernel to Agg)."""
    sb.files.write(
        "prevalence.json",
        json.dumps({"themes": [{"label": "Batteries", "n": 4, "total": 6}], "note": ""}),
    )
    ex = sb.run_code(prevalence_chart_code("prevalence.json", stem="p", title="t"), timeout=60)
    assert ex.error is None, ex.error
    assert _pngs(ex) == []  # the program saves and closes its figure: files, not results
    assert sb.files.read("p.png", format="bytes").startswith(b"\x89PNG")
    assert len(_model_chart(sb)) == 1


def test_a_reset_restores_the_backend_and_style_like_a_fresh_context(sb: LocalSandbox) -> None:
    """A pooled sandbox is reset between jobs; E2B's reset restarts the interpreter. A job
    that switched to Agg and changed the style must not leak either into the next job."""
    ex = sb.run_code(
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "plt.style.use('dark_background')\nplt.plot([1, 2])\nplt.show()"
    )
    assert ex.error is None and _pngs(ex) == []  # Agg shows nothing, as on E2B
    sb.reset()
    assert len(_model_chart(sb)) == 1
    facecolor = sb.run_code("import matplotlib.pyplot as plt\nplt.rcParams['axes.facecolor']")
    assert facecolor.text == "'white'"
