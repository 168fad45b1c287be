"""The offline classifier with a stand-in encoder: learns, calibrates, quotes, flags."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.triage.data import rows, write_csv
from tests.triage.fakes import HashingEncoder
from workbench.core.settings import TriageSettings
from workbench.triage.labelled import load_labelled, load_tickets
from workbench.triage.offline import FOREIGN_FLAG, OfflineTriager


@pytest.fixture
def labelled(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_labelled(
        write_csv(tmp_path / "train.csv", rows(20, seed=1)),
        label_column="label",
        group_column="product",
    )


def test_learns_and_labels_with_calibrated_confidence_and_verbatim_quotes(
    tmp_path: Path, labelled
) -> None:  # type: ignore[no-untyped-def]
    triager = OfflineTriager(HashingEncoder(), TriageSettings(), group_column="product", tuner=None)
    report = triager.fit(labelled)
    assert report.cv_f1 > 0.8 and set(report.cv_per_group) == {"desktop", "mobile"}
    test = rows(10, seed=7)
    tickets = load_tickets(write_csv(tmp_path / "test.csv", test))
    labels = triager.label(tickets.documents)
    gold = {f"test/{r['id']}": r["label"] for r in test}
    right = sum(lab.predicted == gold[lab.doc_id] for lab in labels)
    assert right / len(labels) > 0.85
    by_id = {d.id: d for d in tickets.documents}
    for lab in labels:
        assert abs(sum(lab.probabilities.values()) - 1) < 1e-3
        assert lab.confidence == pytest.approx(max(lab.probabilities.values()), abs=1e-3)
        assert lab.evidence, lab
        doc = by_id[lab.doc_id]
        for ev in lab.evidence:
            assert ev.quote in doc.segment(ev.segment_id).text
            assert doc.text[ev.start_char : ev.end_char] == ev.quote
        assert lab.group in ("desktop", "mobile")


def test_the_deciding_quote_speaks_for_the_category(tmp_path: Path, labelled) -> None:  # type: ignore[no-untyped-def]
    triager = OfflineTriager(HashingEncoder(), TriageSettings(), group_column="product", tuner=None)
    triager.fit(labelled)
    t = {
        "id": "x1",
        "title": "Version 2 notes",
        "body": "We upgraded last week and read the notes. The app crashes with TypeError "
        "when saving. The office is on the second floor.",
        "product": "desktop",
    }
    doc = load_tickets(write_csv(tmp_path / "one.csv", [t])).documents[0]
    (lab,) = triager.label([doc])
    assert lab.predicted == "bug"
    assert "crashes" in lab.evidence[0].quote


def test_other_language_is_flagged(tmp_path: Path, labelled) -> None:  # type: ignore[no-untyped-def]
    triager = OfflineTriager(HashingEncoder(), TriageSettings(), tuner=None)
    triager.fit(labelled)
    t = {
        "id": "de1",
        "title": "Die Anwendung stürzt beim Speichern ab",
        "body": "Wenn ich auf Speichern klicke, schließt sich das Programm sofort. "
        "Bitte um schnelle Hilfe, danke.",
    }
    doc = load_tickets(write_csv(tmp_path / "de.csv", [t])).documents[0]
    (lab,) = triager.label([doc])
    assert FOREIGN_FLAG in lab.flags and lab.predicted is not None


def test_fifty_categories(tmp_path: Path) -> None:
    rng = random.Random(3)
    words = [f"w{i}" for i in range(400)]
    data = []
    for c in range(50):
        own = words[c * 8 : c * 8 + 8]
        for i in range(3):
            body = (
                " ".join(rng.choice(own) for _ in range(12)) + " " + " ".join(rng.sample(words, 4))
            )
            data.append(
                {
                    "id": f"{c}-{i}",
                    "title": f"about {own[0]} {own[1]}",
                    "body": body,
                    "label": f"queue-{c}",
                }
            )
    ls = load_labelled(write_csv(tmp_path / "fifty.csv", data), label_column="label")
    assert len(ls.categories) == 50
    triager = OfflineTriager(HashingEncoder(), TriageSettings(), tuner=None)
    report = triager.fit(ls)
    labels = triager.label(ls.documents[:20])
    assert report.cv_f1 > 0.5
    assert all(len(lab.probabilities) == 50 for lab in labels)
