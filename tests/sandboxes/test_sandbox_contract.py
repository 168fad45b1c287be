"""The contract every backend keeps, run against each one available here.

E2B runs only with ``E2B_TEST_API_KEY`` set: the root conftest removes ``E2B_API_KEY`` so no
test reaches the network by accident, and this suite opts in explicitly.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest

from sandboxes import E2BSandbox, LocalSandbox, Sandbox, SandboxFileError, SandboxLimits

BACKENDS = ["local", "e2b"]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    limits: SandboxLimits,
) -> Iterator[Sandbox]:
    inputs = tmp_path_factory.mktemp("contract-inputs")
    (inputs / "numbers.csv").write_text("label,n\na,3\nb,5\n")
    given = {"numbers.csv": inputs / "numbers.csv"}
    if request.param == "e2b":
        key = os.environ.get("E2B_TEST_API_KEY")
        if not key:
            pytest.skip("E2B contract tests need E2B_TEST_API_KEY (an E2B account); none here")
        sb: Sandbox = E2BSandbox(given, api_key=key)
    else:
        sb = LocalSandbox(
            work_dir=tmp_path_factory.mktemp("contract-work"), inputs=given, limits=limits
        )
    with sb:
        yield sb


def test_last_expression_is_the_main_result(backend: Sandbox) -> None:
    ex = backend.run_code("1 + 1")
    assert ex.error is None
    assert ex.text == "2"
    assert [r.is_main_result for r in ex.results] == [True]


def test_prints_go_to_logs(backend: Sandbox) -> None:
    ex = backend.run_code("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert ex.stdout == "out\n"
    assert "err\n" in ex.stderr
    assert ex.results == []


def test_exceptions_come_back_as_error(backend: Sandbox) -> None:
    ex = backend.run_code("def f():\n    raise ValueError('bad value')\nf()")
    assert ex.error is not None
    assert ex.error.name == "ValueError"
    assert ex.error.value == "bad value"
    assert "f()" in ex.error.traceback and "\x1b[" not in ex.error.traceback


def test_state_persists_between_calls(backend: Sandbox) -> None:
    backend.run_code("x = 41")
    assert backend.run_code("x + 1").text == "42"


def test_matplotlib_chart_as_png_result_and_file(backend: Sandbox) -> None:
    code = (
        "import polars as pl, matplotlib.pyplot as plt, os\n"
        "df = pl.read_csv(os.path.join(os.environ['SANDBOX_INPUTS_DIR'], 'numbers.csv'))\n"
        "fig, ax = plt.subplots()\n"
        "ax.bar(df['label'].to_list(), df['n'].to_list())\n"
        "fig.savefig('chart.png'); fig.savefig('chart.svg')\n"
        "plt.show()"
    )
    ex = backend.run_code(code, timeout=60)
    assert ex.error is None, ex.error
    pngs = [r.png for r in ex.results if r.png]
    assert len(pngs) == 1 and base64.b64decode(pngs[0]).startswith(b"\x89PNG")
    assert backend.files.read("chart.png", format="bytes").startswith(b"\x89PNG")
    assert "<svg" in backend.files.read("chart.svg")


def test_a_model_written_chart_after_the_workbench_charts_is_a_png(backend: Sandbox) -> None:
    """The same code gives the same results on every backend, also in a kernel where the
    workbench's own chart programs ran first (the chart stage shares one sandbox)."""
    import json

    from exports.charts import prevalence_chart_code

    from .test_sandbox_matplotlib import COUNTS, MODEL_CHART

    backend.files.write("prev.json", json.dumps({"themes": [{"label": "a", "n": 1, "total": 2}]}))
    ex = backend.run_code(prevalence_chart_code("prev.json", stem="prev", title="t"), timeout=60)
    assert ex.error is None, ex.error
    backend.files.write("counts.json", json.dumps(COUNTS))
    ex = backend.run_code(MODEL_CHART, timeout=60)
    assert ex.error is None, ex.error
    pngs = [r.png for r in ex.results if r.png]
    assert len(pngs) == 1 and base64.b64decode(pngs[0]).startswith(b"\x89PNG")


def test_files_round_trip(backend: Sandbox) -> None:
    backend.files.write("sub/data.txt", "hello")
    assert backend.run_code("open('sub/data.txt').read()").text == "'hello'"
    backend.run_code("open('out.bin', 'wb').write(bytes(range(256)))")
    assert backend.files.read("out.bin", format="bytes") == bytes(range(256))


def test_missing_file_is_a_clear_error(backend: Sandbox) -> None:
    with pytest.raises(SandboxFileError, match="no file"):
        backend.files.read("does-not-exist.txt")


def test_inputs_are_readable_and_read_only(backend: Sandbox) -> None:
    path = backend.inputs_dir + "/numbers.csv"
    assert "a,3" in (backend.run_code(f"open({path!r}).read()").text or "")
    ex = backend.run_code(f"open({path!r}, 'w').write('tampered')")
    assert ex.error is not None and ex.error.name in ("PermissionError", "OSError")


def test_timeout_is_an_error_and_the_sandbox_keeps_working(backend: Sandbox) -> None:
    ex = backend.run_code("while True:\n    pass", timeout=1)
    assert ex.error is not None and ex.error.name == "TimeoutError"
    assert "timeout" in ex.error.value
    assert backend.run_code("2 + 2").text == "4"


def test_implements_the_protocol(backend: Sandbox) -> None:
    assert isinstance(backend, Sandbox)
