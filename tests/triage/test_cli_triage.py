"""`workbench eval triage --json` prints exactly the issue's shape; bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.triage.data import rows, write_csv
from workbench.cli.app import main

pytestmark = pytest.mark.slow


def test_eval_triage_json_shape(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", rows(10, seed=1))
    test = write_csv(tmp_path / "test.csv", rows(4, seed=5))
    res = CliRunner().invoke(
        main,
        ["eval", "triage", "--train", str(train), "--test", str(test), "--label-column", "label",
         "--group-column", "product", "--project", str(tmp_path), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"overall", "groups", "per_label"}
    assert set(out["overall"]) == {"precision", "recall", "f1"}
    assert set(out["groups"]) == {"desktop", "mobile"}
    assert set(out["per_label"]) == {"bug", "feature", "question"}
    g = out["groups"]
    assert out["overall"]["f1"] == pytest.approx(
        (g["desktop"]["f1"] + g["mobile"]["f1"]) / 2, abs=1e-3
    )
    assert out["overall"]["f1"] > 0.7


def test_triage_bad_input_exits_2_with_the_reason(tmp_path: Path) -> None:
    labelled = write_csv(tmp_path / "l.csv", rows(4))
    res = CliRunner().invoke(
        main,
        ["triage", str(labelled), "--labels", str(labelled), "--label-column", "queue",
         "--project", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "no column 'queue'" in res.output
    res = CliRunner().invoke(
        main, ["triage", str(tmp_path / "nope.csv"), "--labels", str(labelled)]
    )
    assert res.exit_code == 2 and "not found" in res.output
