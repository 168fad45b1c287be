"""The source context of a quote: its own turn whole, the turns around it that say something."""

from __future__ import annotations

from pathlib import Path

from retrieval.types import Document, Segment
from subagents.findings import Evidence
from workbench.outputs.reporting import quote_spec


def _doc(turns: list[tuple[str, str]]) -> Document:
    segments, text, at = [], "", 0
    for i, (who, said) in enumerate(turns):
        segments.append(
            Segment(
                id=f"m#{i}",
                doc_id="m",
                index=i,
                text=said,
                speaker=who,
                start_char=at,
                end_char=at + len(said),
            )
        )
        text += said + "\n"
        at += len(said) + 1
    return Document(
        id="m",
        kind="conversation",
        title="Meeting m",
        source_path="m.txt",
        text=text,
        segments=segments,
    )


def test_turns_that_are_only_markup_are_left_out_of_the_source_context() -> None:
    doc = _doc(
        [
            ("Project Manager", "So what about the {disfmarker} the battery?"),
            ("Marketing", "{vocalsound}"),
            (
                "Industrial Designer",
                "Um {vocalsound} I would go for a kinetic battery, no charger.",
            ),
            ("User Interface", "{vocalsound} {gap}"),
            ("Marketing", "Fine by me."),
        ]
    )
    quote = "I would go for a kinetic battery"
    q = quote_spec(Evidence(doc_id="m", segment_id="m#2", quote=quote), doc, 0.9)
    assert [(t.speaker, t.text) for t in q.turns] == [
        ("Project Manager", "So what about the the battery?"),
        ("Industrial Designer", "Um I would go for a kinetic battery, no charger."),
        ("Marketing", "Fine by me."),
    ]
    own = q.turns[1]
    assert own.text[own.quote_start : own.quote_end] == quote


def test_a_ticket_quote_is_named_by_its_ticket_not_by_an_unknown_speaker(tmp_path: Path) -> None:
    from exports.text import attribution, citation
    from retrieval import load_corpus

    (tmp_path / "issues.csv").write_text(
        "id,title,body\n42,Export fails,The export button does nothing on large files.\n"
    )
    ticket = load_corpus(tmp_path / "issues.csv").documents[0]
    body = ticket.segments[1]
    quote = "The export button does nothing"
    q = quote_spec(Evidence(doc_id=ticket.id, segment_id=body.id, quote=quote), ticket, 0.8)
    assert q.source_kind == "ticket"
    assert attribution(q) == "— Export fails"
    assert "Unknown speaker" not in citation(q) and "(doc issues/42)" in citation(q)
    # a turn of a conversation whose speaker is missing still says so
    doc = _doc([("", "We need a cheaper remote.")])
    turn = quote_spec(Evidence(doc_id="m", segment_id="m#0", quote="a cheaper remote"), doc, None)
    assert attribution(turn).startswith("— Unknown speaker · Meeting m")
