from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from retrieval import Redactor, load_corpus
from tests.retrieval.conftest import REPO_ROOT, write


def test_redaction_at_ingest_is_reversible_only_with_the_local_map(tmp_path: Path) -> None:
    write(
        tmp_path / "c" / "call.txt",
        "[00:00:01] Maria Lopez: Reach me at maria.lopez@example.com or +1 415 555 0100.\n"
        "[00:00:09] Interviewer: Thanks Maria.\n",
    )
    map_path = tmp_path / "private" / "pii.json"
    report = load_corpus(tmp_path / "c", redactor=Redactor(map_path))
    doc = report.documents[0]
    assert "maria" not in doc.text.lower() and "555" not in doc.text
    assert doc.segments[0].speaker == "[PERSON_1]" and doc.segments[1].speaker == "Interviewer"
    assert "[EMAIL_1]" in doc.text and "[PHONE_1]" in doc.text
    for seg in doc.segments:
        assert doc.text[seg.start_char : seg.end_char] == seg.text
    assert doc.segments[0].start_time == 1.0
    assert stat.S_IMODE(map_path.stat().st_mode) == 0o600
    assert "maria.lopez@example.com" in json.loads(map_path.read_text()).values()
    again = Redactor(map_path)  # placeholders are stable across runs
    assert "Maria Lopez" in again.reveal(doc.text)


def test_import_retrieval_is_cheap() -> None:
    code = "import sys, retrieval; print('torch' in sys.modules, 'chromadb' in sys.modules, 'sentence_transformers' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert out.stdout.split() == ["False", "False", "False"]
