"""Hostile and odd corpus files: links out of the corpus, short CSV rows, late NULs,
UTF-16 without a byte-order mark, size limits said in the units they are set in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrieval import UserInputError, load_corpus
from tests.retrieval.conftest import write


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = write(tmp_path / "outside" / "passwd.txt", "root: x:0:0 TOPSECRET-LINKED\n")
    write(tmp_path / "outside" / "more" / "notes.txt", "Eve: TOPSECRET-FOLDER lives here.\n")
    return secret


def test_links_out_of_the_corpus_are_skipped_and_named(tmp_path: Path, outside: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "real.txt", "Ana: The export is slow.\n")
    write(corpus / "real.wav", b"RIFF")  # unrelated media beside a real transcript
    os.symlink(outside, corpus / "passwd.txt")
    os.symlink(outside.parent / "more", corpus / "more")
    os.symlink(outside, corpus / "interview.wav")
    write(corpus / "interview.txt", "Bo: I like the remote.\n")
    os.symlink(corpus / "real.txt", corpus / "alias.txt")  # inside: fine (a duplicate)
    report = load_corpus(corpus)
    text = " ".join(d.text for d in report.documents)
    assert "TOPSECRET" not in text
    ids = {d.id for d in report.documents}
    assert "interview" in ids and len(ids & {"real", "alias"}) == 1  # the alias inside: a duplicate
    skipped = {s.path: s.reason for s in report.skipped}
    assert "outside the corpus" in skipped["passwd.txt"]
    assert "outside the corpus" in skipped["more"]
    assert any("passwd.txt" in w and "outside the corpus" in w for w in report.warnings)
    (interview,) = [d for d in report.documents if d.id == "interview"]
    assert interview.media_path is None  # the recording beside it links out of the corpus


def test_a_csv_row_with_too_few_fields_is_named(tmp_path: Path) -> None:
    write(tmp_path / "c" / "t.csv", "id,title,body,plan\n1,Crash,on save,pro\n2,Slow\n")
    with pytest.raises(UserInputError, match=r"t\.csv: line 3 has 2 fields but the header has 4"):
        load_corpus(tmp_path / "c")


def test_a_nul_after_the_first_8_kib_is_binary(tmp_path: Path) -> None:
    write(tmp_path / "c" / "ok.txt", "Ana: fine.\n")
    write(tmp_path / "c" / "late.txt", b"Bo: hello.\n" * 1000 + b"\x00\x01\x02binary tail")
    report = load_corpus(tmp_path / "c")
    assert [d.id for d in report.documents] == ["ok"]
    assert "binary" in {s.path: s.reason for s in report.skipped}["late.txt"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_text(tmp_path: Path, codec: str) -> None:
    text = "Interviewer: Was ist schwierig?\nUser: Die Fernbedienung ist zu groß.\n" * 20
    write(tmp_path / "c" / "i.txt", text.encode(codec))
    (doc,) = load_corpus(tmp_path / "c").documents
    assert "Fernbedienung ist zu groß" in doc.text


def test_the_size_limit_is_said_in_mib(tmp_path: Path) -> None:
    write(tmp_path / "c" / "ok.txt", "Ana: fine.\n")
    write(tmp_path / "c" / "big.txt", b"a" * (20 * 2**20 + 1))
    report = load_corpus(tmp_path / "c", max_file_bytes=20 * 2**20)
    reason = {s.path: s.reason for s in report.skipped}["big.txt"]
    assert "20 MiB limit" in reason and "21" not in reason
