"""Reading labelled tickets: every bad input gets a clear message, nothing dropped silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.triage.data import rows, write_csv
from workbench.core.errors import UserError
from workbench.triage.labelled import (
    MAX_TEXT_CHARS,
    TextColumns,
    evidence_segments,
    load_labelled,
    load_tickets,
    ticket_text,
)


def test_label_column_missing_names_the_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", rows(4))
    with pytest.raises(UserError) as e:
        load_labelled(path, label_column="category")
    msg = str(e.value)
    assert "no column 'category'" in msg and "label" in msg and "product" in msg


def test_empty_labels_are_listed_not_learned(tmp_path: Path) -> None:
    data = rows(4)
    data[0]["label"] = ""
    data[1]["label"] = "   "
    ls = load_labelled(write_csv(tmp_path / "l.csv", data), label_column="label")
    assert len(ls.unlabelled) == 2
    assert len(ls.documents) == len(data) - 2
    assert any("empty 'label'" in n and ls.unlabelled[0] in n for n in ls.notes())


def test_a_category_with_one_example_is_named_and_not_learned(tmp_path: Path) -> None:
    data = rows(4)
    data[0]["label"] = "docs"
    ls = load_labelled(write_csv(tmp_path / "l.csv", data), label_column="label")
    assert "docs" not in ls.categories and ls.too_rare == {"docs": [f"l/{data[0]['id']}"]}
    note = next(n for n in ls.notes() if "'docs'" in n)
    assert "1 labelled example" in note and "at least 3" in note


def test_one_learnable_category_is_an_error(tmp_path: Path) -> None:
    data = rows(4, labels=("bug",))
    data[0]["label"] = "feature"
    with pytest.raises(UserError, match="at least two categories"):
        load_labelled(write_csv(tmp_path / "l.csv", data), label_column="label")


def test_group_and_text_columns_are_checked(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", rows(4))
    with pytest.raises(UserError, match="no column 'repo'"):
        load_labelled(path, label_column="label", group_column="repo")
    with pytest.raises(UserError, match="no column 'summary'"):
        load_tickets(path, TextColumns.parse("summary,body"))
    with pytest.raises(UserError, match="empty"):
        TextColumns.parse(" , ")


def test_text_columns_choose_what_is_read(tmp_path: Path) -> None:
    data = [dict(r, subject=r["title"], details=r["body"], title="", body="") for r in rows(3)]
    path = write_csv(tmp_path / "l.csv", data, ["id", "subject", "details", "label", "product"])
    cols = TextColumns.parse("subject,details")
    ls = load_labelled(path, label_column="label", columns=cols)
    text = ticket_text(ls.documents[0], cols)
    assert data[0]["subject"] in text or any(d["subject"] in text for d in data)
    assert len(ls.documents) == 9


def test_tickets_of_200_kb_load_and_are_read_from_their_opening(tmp_path: Path) -> None:
    data = rows(4)
    data[0]["body"] = "The export crashes. " + "log line with details\n" * 10_000  # ~230 KB
    path = write_csv(tmp_path / "l.csv", data)
    loaded = load_tickets(path)
    big = next(d for d in loaded.documents if d.id.endswith(data[0]["id"]))
    assert len(big.text) > 200_000
    assert len(ticket_text(big)) == MAX_TEXT_CHARS
    assert any("longer than" in w for w in loaded.warnings)


def test_jsonl_works_too(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows(3)), encoding="utf-8")
    ls = load_labelled(path, label_column="label", group_column="product")
    assert ls.categories == ["bug", "feature", "question"]
    assert set(ls.groups) == {"desktop", "mobile"}


def test_a_comments_column_adds_the_comments_to_text_and_evidence(tmp_path: Path) -> None:
    data = [dict(r, comments_text="") for r in rows(3)]
    data[0]["comments_text"] = "A maintainer replied: this works as designed, not a defect."
    path = tmp_path / "l.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in data), encoding="utf-8")
    ls = load_labelled(path, label_column="label")
    doc = next(d for d in ls.documents if d.id.endswith(data[0]["id"]))
    with_comments = TextColumns.parse("title,body,comments_text")
    assert "works as designed" in ticket_text(doc, with_comments)
    assert "works as designed" not in ticket_text(doc)  # title and body only
    quotable = [text for _, text in evidence_segments(doc, with_comments)]
    assert any("works as designed" in t for t in quotable)
    assert not any("works as designed" in t for _, t in evidence_segments(doc))
