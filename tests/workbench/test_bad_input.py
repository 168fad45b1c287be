"""Bad input: a clear message, a non-zero exit where nothing could be done, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core.errors import UserError


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_missing_path(tmp_path: Path) -> None:
    p = _cli("analyze", str(tmp_path / "nope"), "-q", "why?", "--project", str(tmp_path / "p"))
    assert p.returncode == 2 and "not found" in p.stderr and "nope" in p.stderr


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    p = _cli("analyze", str(tmp_path / "empty"), "-q", "why?", "--project", str(tmp_path / "p"))
    assert p.returncode == 2 and "no files" in p.stderr


def test_only_unsupported_files_are_listed(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (folder / "data.xlsx").write_bytes(b"PK\x03\x04" + bytes(100))
    p = _cli("analyze", str(folder), "-q", "why?", "--project", str(tmp_path / "p"))
    assert p.returncode == 2
    assert "photo.png" in p.stderr and "data.xlsx" in p.stderr


def test_corrupt_json_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "broken.json").write_text(
        '{\n  "meeting_transcripts": [\n    {"speaker": "A", "content": "hi"\n  ]\n}\n'
    )
    p = _cli("analyze", str(folder), "-q", "why?", "--project", str(tmp_path / "p"))
    assert p.returncode == 2
    assert "broken.json" in p.stderr and "line" in p.stderr


def test_corrupt_csv_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "tickets.csv").write_text(
        'id,title,body\n1,"Login fails","cannot log in"\n2,"Export","slow"\n3,"Crash","on save\n'
    )
    p = _cli("analyze", str(folder), "-q", "why?", "--project", str(tmp_path / "p"))
    assert p.returncode == 2
    assert "tickets.csv" in p.stderr and "line 4" in p.stderr


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question(tmp_path: Path, sample_corpus: Path, question: str) -> None:
    p = _cli("analyze", str(sample_corpus), "-q", question, "--project", str(tmp_path / "p"))
    assert p.returncode == 2 and "question is empty" in p.stderr
    assert not (tmp_path / "p" / ".workbench" / "runs").exists() or not any(
        (tmp_path / "p" / ".workbench" / "runs").iterdir()
    )


def test_bad_settings_file_is_named(tmp_path: Path, sample_corpus: Path) -> None:
    cfg = tmp_path / "p" / ".workbench" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("concurrency = 'many'\n")
    p = _cli("analyze", str(sample_corpus), "-q", "why?", "--project", str(tmp_path / "p"))
    assert p.returncode == 2 and "config.toml" in p.stderr and "concurrency" in p.stderr


def test_non_utf8_text_is_decoded_and_reported(analysed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from workbench.runs.corpus import Corpus

    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "interview.txt").write_bytes(
        "Interviewer: What did you think of the caf\u00e9 app?\nUser: The na\u00efve login screen is annoying.\n".encode(
            "cp1252"
        )
    )
    corpus = Corpus.load(folder)
    assert len(corpus.documents) == 1
    assert "caf\u00e9" in corpus.documents[0].text
    assert any("interview.txt" in w for w in corpus.warnings)


def test_failed_run_keeps_what_was_written(analysed, small_corpus: Path) -> None:  # type: ignore[no-untyped-def]
    """A run that fails part-way records why and keeps its finished tasks for the next attempt."""
    import workbench as wb
    from workbench.core.settings import Budgets, Settings

    project, _, _ = analysed
    capped = wb.Project(project.dir, settings=Settings(budgets=Budgets(max_tasks=2)))
    with pytest.raises(wb.RunError, match="task budget"):
        capped.analyze(
            small_corpus, "Which colours and materials do they consider?", on_event=lambda e: None
        )
    run_dir = sorted((project.dir / ".workbench" / "runs").glob("*/manifest.json"))[-1].parent
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "task budget" in manifest["error"]
    assert len(list((run_dir / "tasks").glob("analyze-*.json"))) == 2
    run = project.analyze(
        small_corpus, "Which colours and materials do they consider?", on_event=lambda e: None
    )
    assert run.dir == run_dir and run.manifest["tasks"] == {"executed": 4, "reused": 2}


def test_user_error_from_python_api(tmp_path: Path) -> None:
    import workbench as wb

    with pytest.raises(UserError, match="not found"):
        wb.Project(tmp_path / "p").analyze(tmp_path / "missing", "why?")
