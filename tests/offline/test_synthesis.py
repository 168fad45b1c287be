"""Clustering synthesis on hand-made findings with the real MiniLM embedder."""

from __future__ import annotations

import pytest

from subagents.findings import Evidence, Finding
from subagents.offline.synthesis import ClusteringSynthesizer, SynthesisSettings


def _f(doc: str, i: int, text: str) -> Finding:
    return Finding(
        id=f"{doc}-{i}",
        task_key="t",
        doc_id=doc,
        claim=text,
        confidence=0.8,
        evidence=[Evidence(doc_id=doc, segment_id=f"{doc}#{i}", quote=text, speaker="Marketing")],
    )


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    from retrieval import Embedder

    return Embedder()


def test_distinct_themes_with_prevalence_and_unassigned_documents(embedder) -> None:  # type: ignore[no-untyped-def]
    battery = [
        "The battery should last for months without charging",
        "People hate replacing the batteries in the remote control",
        "A rechargeable battery with a charging dock would be nice",
        "Battery life matters more than extra features",
    ]
    buttons = [
        "There are far too many buttons on current remotes",
        "Users only use a few of the buttons on the remote",
        "Fewer, bigger buttons would make it easier to use",
    ]
    findings = [_f(f"d{i}", 0, t) for i, t in enumerate(battery)]
    findings += [_f(f"d{i}", 1, t) for i, t in enumerate(buttons)]
    findings.append(_f("d9", 0, "The weather in Edinburgh was rainy during the meeting"))
    docs = [f"d{i}" for i in range(10)]
    synth = ClusteringSynthesizer(
        embedder, SynthesisSettings(min_doc_share=0.2, distance_threshold=0.75)
    )
    result = synth.synthesize(findings, docs, noun="meetings")
    labels = [t.label.lower() for t in result.themes]
    assert len(result.themes) == 2, labels
    assert any("batter" in label for label in labels)
    assert any("button" in label for label in labels)
    for t in result.themes:
        assert t.total_documents == 10
        assert t.n_documents == len(set(t.doc_ids)) >= 3
        assert "of 10 meetings" in t.summary
    # d9's only finding fits nothing; d4..d8 had no findings at all: none are forced in
    assert "d9" in result.unassigned_doc_ids
    assert set(result.unassigned_doc_ids) >= {"d4", "d5", "d6", "d7", "d8"}
    assert "d9-0" in result.outlier_finding_ids


def test_too_few_findings_gives_no_themes(embedder) -> None:  # type: ignore[no-untyped-def]
    result = ClusteringSynthesizer(embedder).synthesize([_f("a", 0, "one finding")], ["a", "b"])
    assert result.themes == []
    assert result.unassigned_doc_ids == ["a", "b"]


def test_theme_labels_are_unique_and_never_a_bare_placeholder() -> None:
    from subagents.offline.synthesis import _ctfidf_labels, _distinct_labels

    # no phrase shared by two documents of the second theme: its own best phrase names it
    labels = _ctfidf_labels(
        [[("a", "zebra crossing"), ("b", "zebra crossing")], [("c", "apple pie"), ("d", "road")]]
    )
    assert labels[0][0] == "Zebra crossing" and labels[1][0] != "Miscellaneous remarks"
    # repeats take their next distinct keyword, else a number
    out = _distinct_labels(
        [
            ("Button and load", ["button", "load", "battery"]),
            ("Button and load", ["button", "load", "battery"]),
            ("Miscellaneous remarks", []),
            ("Miscellaneous remarks", []),
        ]
    )
    names = [label for label, _ in out]
    assert names == [
        "Button and load",
        "Button and load, battery",
        "Miscellaneous remarks",
        "Miscellaneous remarks (2)",
    ]
