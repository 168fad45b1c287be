"""`workbench ask`, `workbench eval analysis` and `workbench eval compare` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli import main

from .conftest import GOLDEN, Indexed

pytestmark = pytest.mark.slow


def test_ask_prints_a_cited_answer(indexed: Indexed, two_meetings: Path) -> None:
    args = ["ask", str(two_meetings), "-q", "What is the project about?", "--doc", "ES2002a"]
    args += ["--project", str(indexed.project.dir)]
    r = CliRunner().invoke(main, [*args, "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["found"] and data["evidence"] and "[1]" in data["text"]
    assert {e["doc_id"] for e in data["evidence"]} == {"ES2002a"}
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0 and "Evidence:" in text.stdout
    bad = CliRunner().invoke(main, ["ask", str(two_meetings), "-q", "x", "--where", "novalue"])
    assert bad.exit_code == 2 and "key=value" in bad.output


def test_eval_analysis_and_compare(indexed: Indexed, two_meetings: Path, tmp_path: Path) -> None:
    store = tmp_path / "evals"
    base = ["eval", "analysis", str(GOLDEN), str(two_meetings), "--limit", "3"]
    base += ["--project", str(indexed.project.dir), "--store", str(store)]
    r = CliRunner().invoke(main, [*base, "--json", "--save-version", "A"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    for key in ("evidence_hit", "quote_faithfulness", "rouge1", "rouge2", "rougeL"):
        assert key in data["overall"]
    assert data["overall"]["quote_faithfulness"] == 1.0
    assert len(data["items"]) == 3 and data["items"][0]["metrics"]["rouge1"] is not None
    r2 = CliRunner().invoke(main, [*base, "--save-version", "B"])
    assert r2.exit_code == 0 and "rouge1" in r2.stdout
    c = CliRunner().invoke(main, ["eval", "compare", "A", "B", "--store", str(store), "--json"])
    assert c.exit_code == 0, c.output
    diff = json.loads(c.stdout)
    assert diff["regressions"] == [] and {m["metric"] for m in diff["metrics"]} >= {"rouge1"}
    missing = CliRunner().invoke(main, ["eval", "compare", "A", "Z", "--store", str(store)])
    assert missing.exit_code == 2 and "no stored evaluation" in missing.output
    nocorpus = CliRunner().invoke(main, ["eval", "analysis", str(tmp_path / "nope.json")])
    assert nocorpus.exit_code == 2
