"""Speaker roles end to end: interviews of several shapes, an override, another language."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ANSWERS = [
    "The alerts fire on every small shift in the inputs, so after a week the whole team ignores them.",
    "Real drift goes unnoticed for a month because nobody owns the monitoring dashboards.",
    "We only learn that a model degraded when the business metric drops weeks later.",
    "Our labels arrive months late, so live accuracy cannot be computed at all.",
]


def _interview(asker: str, answerer: str, answers: list[str]) -> str:
    turns = []
    for a in answers:
        turns += [
            f"{asker}: What makes monitoring your models hard in practice?",
            f"{answerer}: {a}",
        ]
    return "\n\n".join(turns) + "\n"


def test_roles_overrides_and_another_language(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    # a recruiter labelled "Interviewer" is the participant here; Sam asks the questions
    (folder / "recruiter.txt").write_text(_interview("Sam", "Interviewer", ANSWERS[:3]))
    (folder / "engineer.txt").write_text(_interview("Interviewer 1", "Interviewee", ANSWERS[1:]))
    (folder / "lead.txt").write_text(_interview("Moderator", "Participant", ANSWERS[::2]))
    (folder / "german.txt").write_text(
        _interview(
            "Moderator",
            "Teilnehmer",
            ["Die Warnungen kommen ständig, deshalb schaut niemand mehr auf die Übersicht."] * 3,
        ).replace(
            "What makes monitoring your models hard in practice?",
            "Was ist schwierig an der Überwachung Ihrer Modelle?",
        )
    )
    p = subprocess.run(
        [
            sys.executable, "-m", "workbench.cli", "analyze", str(folder),
            "-q", "What makes monitoring machine learning models hard?",
            "--project", str(tmp_path / "p"), "--participant", "Interviewer", "--json",
        ],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads(p.stdout)
    roles = {r["doc_id"]: r for r in summary["speaker_roles"]}
    assert roles["recruiter"]["interviewers"] == ["Sam"]
    assert roles["engineer"]["interviewers"] == ["Interviewer 1"]
    assert roles["lead"]["interviewers"] == ["Moderator"]
    assert summary["other_language"] == {"german": "de"}
    assert "another language" in p.stderr
    run = Path(summary["run_dir"])
    findings = json.loads((run / "findings.json").read_text())
    rows = findings["findings"] if isinstance(findings, dict) else findings
    evidence = [e for r in rows for e in r["evidence"]]
    assert evidence and all(e["role"] == "participant" for e in evidence)
    assert all(e["speaker"] not in ("Sam", "Interviewer 1", "Moderator") for e in evidence)
    assert not any(r["doc_id"] == "german" for r in rows)
    assert all("?" not in e["quote"] for e in evidence)
    report = (run / "report.md").read_text()
    assert "german" in report and "another language" in report
