"""Clustering synthesis on hand-made findings with the real MiniLM embedder."""

from __future__ import annotations

import itertools

import pytest

from subagents.findings import Evidence, Finding
from subagents.offline.synthesis import (
    ClusteringSynthesizer,
    SynthesisSettings,
    _distinct,
    min_documents,
    name_groups,
    phrases,
)


def _f(doc: str, i: int, text: str, speaker: str = "Marketing", role: str | None = None) -> Finding:
    return Finding(
        id=f"{doc}-{i}",
        task_key="t",
        doc_id=doc,
        claim=text,
        confidence=0.8,
        evidence=[
            Evidence(doc_id=doc, segment_id=f"{doc}#{i}", quote=text, speaker=speaker, role=role)  # type: ignore[arg-type]
        ],
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
    synth = ClusteringSynthesizer(embedder, SynthesisSettings(min_doc_share=0.3))
    result = synth.synthesize(findings, docs, noun="meetings")
    labels = [t.label.lower() for t in result.themes]
    assert len(result.themes) == 2, labels
    assert any("batter" in label for label in labels)
    assert any("button" in label for label in labels)
    for t in result.themes:
        assert t.total_documents == 10
        assert t.n_documents == len(set(t.doc_ids)) >= 3
        assert "of 10 meetings" in t.summary
        assert t.description and t.description[0].isupper()
    # d9's only finding fits nothing; d4..d8 had no findings at all: none are forced in,
    # and each says why
    assert "d9" in result.unassigned_doc_ids
    assert set(result.unassigned_doc_ids) >= {"d4", "d5", "d6", "d7", "d8"}
    assert "d9-0" in result.outlier_finding_ids
    assert "fit no theme" in result.unassigned_reasons["d9"]
    assert "addresses the question" in result.unassigned_reasons["d5"]


def test_too_few_findings_gives_no_themes(embedder) -> None:  # type: ignore[no-untyped-def]
    result = ClusteringSynthesizer(embedder).synthesize([_f("a", 0, "one finding")], ["a", "b"])
    assert result.themes == []
    assert result.unassigned_doc_ids == ["a", "b"]


TOPICS = {
    "battery": [
        "the battery runs out after a week and I have to buy new batteries",
        "a rechargeable battery would save us buying batteries all the time",
        "battery life is what I care about most in a remote",
        "I hate it when the batteries die in the middle of a film",
        "we would pay more for a battery that lasts a whole year",
        "the battery cover keeps falling off and the batteries roll away",
    ],
    "buttons": [
        "there are far too many buttons and I never use most of them",
        "the buttons are tiny and hard to press with my thumb",
        "I want fewer buttons, just volume and channel",
        "the button labels rub off after a few months",
        "big buttons with clear symbols would be easier",
        "all the buttons look the same so I press the wrong one",
    ],
    "lost": [
        "the remote always gets lost between the sofa cushions",
        "I spend ages looking for the remote under the sofa",
        "a remote that beeps when you clap would help find it",
        "my kids hide the remote and we can never find it",
        "we lose the remote every evening somewhere in the living room",
        "it should have a locator so you can find it when it is lost",
    ],
}


def _corpus() -> list[Finding]:
    out = []
    docs = [f"m{i}" for i in range(12)]
    for lines, shift in zip(TOPICS.values(), (0, 4, 8), strict=True):
        for j, text in enumerate(itertools.islice(itertools.cycle(lines), 12)):
            doc = docs[(j + shift) % 12]
            out.append(_f(doc, len(out), f"{text} ({j})", speaker=f"P{j % 4}", role="participant"))
    return out


def test_themes_codes_and_participants_on_a_graph_sized_corpus(embedder) -> None:  # type: ignore[no-untyped-def]
    findings = _corpus()
    docs = [f"m{i}" for i in range(12)]
    people = {d: ["P0", "P1", "P2", "P3"] for d in docs}
    result = ClusteringSynthesizer(embedder).synthesize(
        findings, docs, noun="meetings", participants=people
    )
    assert len(findings) >= 30  # the spectral path
    assert len(result.themes) == 3, [t.label for t in result.themes]
    topic_of = {
        f.id: t for f in findings for t, lines in TOPICS.items() if f.claim.split(" (")[0] in lines
    }
    for t in result.themes:
        topics = {topic_of[i] for i in t.finding_ids}
        assert len(topics) == 1, (t.label, topics)
        assert t.total_participants == 48
        assert t.n_participants is not None and 1 <= t.n_participants <= 48
        for c in t.codes:
            assert set(c.finding_ids) <= set(t.finding_ids)
            assert c.n_documents >= 2 and len(c.finding_ids) >= 3


def test_sampled_clustering_matches_the_exact_one_on_separable_topics(embedder) -> None:  # type: ignore[no-untyped-def]
    findings = _corpus()
    docs = [f"m{i}" for i in range(12)]
    exact = ClusteringSynthesizer(embedder).synthesize(findings, docs)
    sampled = ClusteringSynthesizer(embedder, SynthesisSettings(sample_size=30)).synthesize(
        findings, docs
    )
    groups = lambda r: sorted(sorted(t.finding_ids) for t in r.themes)  # noqa: E731
    assert groups(exact) == groups(sampled)


def test_significance_grows_with_the_corpus_but_slower_than_a_share() -> None:
    assert min_documents(7, 0.1) == 2
    assert min_documents(36, 0.1) == 4
    assert min_documents(1500, 0.1) == 22
    assert min_documents(10_000, 0.1) == 28  # not 1,000


def test_names_are_phrases_of_consecutive_words_and_never_repeat(embedder) -> None:  # type: ignore[no-untyped-def]
    # phrases never skip the words between ("battery life", not "battery matters")
    assert "battery life" in phrases("The battery life matters")
    assert "battery matters" not in phrases("The battery life matters")
    groups = [
        [_f("a", 0, "the battery life is short"), _f("b", 1, "battery life matters to me")],
        [_f("c", 2, "tiny buttons are hard to press"), _f("d", 3, "the buttons are tiny")],
    ]
    vecs = [embedder.encode([f.claim for f in g]) for g in groups]
    names = name_groups(groups, vecs, embedder, set())
    assert names[0][0] == "Battery life", names
    assert "button" in names[1][0].lower(), names
    out = _distinct(
        [
            ("Battery life", ["battery life", "charging dock"]),
            ("Battery life", ["battery life", "charging dock"]),
            ("Miscellaneous remarks", []),
            ("Miscellaneous remarks", []),
        ]
    )
    assert [label for label, _ in out] == [
        "Battery life",
        "Battery life: charging dock",
        "Miscellaneous remarks",
        "Miscellaneous remarks (2)",
    ]


def test_a_part_asking_for_a_stance_gets_findings_that_take_it(embedder) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from subagents.offline.sentiment import sentiment_of
    from subagents.offline.synthesis import question_parts

    texts = [
        "For me the highest priority is that a pet enjoys being with its family.",
        "I am worried that people will lose the remote under the sofa all the time.",
        "Many users complain the buttons are too small and they fear pressing the wrong one.",
        "We want a remote with a bright yellow case and a scroll wheel.",
        "It should have a big screen that shows the channel.",
    ]
    findings = []
    for i, t in enumerate(texts):
        f = _f(f"d{i}", i, t)
        f.sentiment = sentiment_of(t)
        findings.append(f)
    content = np.asarray(embedder.encode(texts), dtype=np.float32)
    groups = [[0, 1, 2], [3, 4]]
    from subagents.findings import Theme

    themes = [
        Theme(
            id=f"t{g}",
            label=f"T{g}",
            summary="",
            finding_ids=[],
            doc_ids=[],
            n_documents=1,
            total_documents=5,
        )
        for g in range(2)
    ]
    parts = question_parts(
        "What do they want from the remote, and what worries them?",
        findings,
        content,
        groups,
        themes,
        embedder,
        per_part=2,
    )
    assert [p.question for p in parts] == ["What do they want from the remote", "What worries them"]
    worries = set(parts[1].finding_ids)
    assert worries == {"d1-1", "d2-2"}  # the two that take the stance, not the pet's priority
