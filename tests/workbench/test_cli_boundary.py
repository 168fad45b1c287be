"""One error boundary for the CLI: bad input and settings exit 2 with a message and no
traceback, run failures exit 1 with their cause, whatever package raised them; and
nothing from the corpus reaches the terminal as a control sequence."""

from __future__ import annotations

import errno
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from exports.errors import BundleError, ExportError, ExportInputError
from retrieval.errors import IndexStateError, RetrievalError, UserInputError
from sandboxes.errors import SandboxError, SandboxUnavailableError
from subagents.errors import ModelCallError, SpecError, SubagentsError
from workbench.cli import main
from workbench.core.errors import RunError, UserError, translate


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=cwd,
    )


def _tiny(tmp_path: Path) -> Path:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "m1.txt").write_text("Alice: The remote is too big.\nBob: Make it yellow.\n")
    return corpus


def test_a_bad_filter_is_bad_input_without_a_traceback(tmp_path: Path) -> None:
    p = _cli("ask", str(_tiny(tmp_path)), "-q", "size?", "--where", "$bogus=1", "--project",
             str(tmp_path / "p"))  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "$bogus" in p.stderr
    assert p.stderr.startswith("error: ")


def test_usage_errors_use_the_same_prefix() -> None:
    r = CliRunner().invoke(main, ["analyze"])
    assert r.exit_code == 2
    assert "error: " in r.output and "Error:" not in r.output
    r = CliRunner().invoke(main, ["no-such-command"])
    assert r.exit_code == 2 and "error: " in r.output and "Error:" not in r.output


class _Strict(BaseModel):
    n: int


def _validation_error() -> Exception:
    try:
        _Strict.model_validate({"n": "many"})
    except ValueError as e:
        return e
    raise AssertionError


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (UserInputError("bad corpus file x.csv, line 3"), UserError),
        (IndexStateError("index manifest unreadable"), RunError),
        (RetrievalError("other"), RunError),
        (SpecError("spec foo.md: no name"), UserError),
        (ModelCallError("529 overloaded after 5 attempts"), RunError),
        (SubagentsError("other"), RunError),
        (SandboxUnavailableError("install bubblewrap"), UserError),
        (SandboxError("kernel did not start"), RunError),
        (ExportInputError("template.pptx is not a deck"), UserError),
        (BundleError("bundle does not match its manifest"), UserError),
        (ExportError("other"), RunError),
        (_validation_error(), UserError),
        (OSError(errno.ENOSPC, "No space left on device"), RunError),
        (sqlite3.DatabaseError("file is not a database"), RunError),
        (KeyError("x"), RunError),
    ],
)
def test_errors_of_every_package_are_translated_in_one_place(
    exc: Exception, kind: type[Exception]
) -> None:
    out = translate(exc)
    assert type(out) is kind, (exc, out)
    assert out.__cause__ is exc or out is exc
    if isinstance(exc, OSError):
        assert "disk is full" in str(out)
    if isinstance(exc, sqlite3.DatabaseError):
        assert "damaged" in str(out)


def test_a_damaged_run_file_is_named_not_a_traceback(tmp_path: Path) -> None:
    run = tmp_path / "p" / ".workbench" / "runs" / "20260101-000000-x-abcd"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"run_id": run.name, "status": "complete"}))
    (run / "themes.json").write_text("{ not json")
    p = _cli("runs", "--project", str(tmp_path / "p"))
    assert "Traceback" not in p.stderr, p.stderr
    assert p.returncode in (0, 1) and "themes.json" in (p.stdout + p.stderr)


def test_corpus_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    run = tmp_path / "p" / ".workbench" / "runs" / "20260101-000000-x-abcd"
    run.mkdir(parents=True)
    question = "why?\x1b]0;pwned\x07\x1b[2J\x1b[31m red \u202e"
    manifest = {"run_id": run.name, "status": "complete", "engine": "offline"}
    (run / "manifest.json").write_text(json.dumps({**manifest, "question": question}))
    r = CliRunner().invoke(main, ["runs", "--project", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    assert "why?" in r.output and "\x1b" not in r.output and "\x07" not in r.output
    assert "\u202e" not in r.output


def test_bad_input_leaves_no_project_folder_behind(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    p = _cli("analyze", str(tmp_path / "empty"), "-q", "why?", "--project", str(tmp_path / "p"))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert not (tmp_path / "p").exists(), sorted((tmp_path / "p").rglob("*"))
    r = CliRunner().invoke(main, ["runs", "--project", str(tmp_path / "q")])
    assert r.exit_code == 0 and not (tmp_path / "q").exists()
