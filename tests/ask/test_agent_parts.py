"""The agent stack's parts that the engines, `ask`, triage and the judge share: the one
adapter from the index to the agent tools, the one evidence-offset function, and the one
citation-to-evidence conversion."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from retrieval.types import Document, Segment
from subagents.findings import Evidence, Finding
from subagents.tools import ReadSegmentArgs, SearchArgs
from subagents.verify import check_evidence
from workbench.ask.answer import Citation
from workbench.engines.evidence import agent_tools, evidence_in_source, fill_evidence


def _doc(doc_id: str, turns: list[tuple[str, str]]) -> Document:
    text, segments, at = "", [], 0
    for i, (speaker, line) in enumerate(turns):
        segments.append(
            Segment(
                id=f"{doc_id}#{i}",
                doc_id=doc_id,
                index=i,
                text=line,
                speaker=speaker,
                start_char=at,
                end_char=at + len(line),
                start_time=float(10 * i),
                end_time=float(10 * i + 9),
                attrs={"role": "participant"},
            )
        )
        text += line + "\n"
        at = len(text)
    return Document(id=doc_id, kind="conversation", title=doc_id, source_path=doc_id, text=text, segments=segments)  # fmt: skip


DOCS = {
    "a": _doc("a", [("Ann", "We lost the remote twice."), ("Bob", "The battery died again.")]),
    "b#2": _doc("b#2", [("Cy", "Pricing is too high for us.")]),  # a '#' in the document id
}


class RecordingIndex:
    """An index that records what it was asked and returns nothing."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def search(self, query: str, **kwargs: Any) -> list[Any]:
        self.calls.append({"query": query, **kwargs})
        return []


def _call(tools: Any, name: str, args: Any) -> str:
    tool = tools.select([name], spec_name="test")[name]
    return str(asyncio.run(tool.fn(args)).text)


def test_the_tools_search_and_read_only_inside_their_scope() -> None:
    index = RecordingIndex()
    tools = agent_tools(index, DOCS, doc_ids=["a"], where={"speaker": "Ann"})
    assert tools.names() == ["read_segment", "search"]

    _call(tools, "search", SearchArgs(query="remote", filters={"topic": "x"}))
    assert index.calls[-1]["doc_ids"] == ["a"]
    assert index.calls[-1]["where"] == {"$and": [{"speaker": "Ann"}, {"topic": "x"}]}
    # a document outside the scope is not searched at all
    assert _call(tools, "search", SearchArgs(query="price", filters={"doc_id": "b#2"})) == (
        "no passages matched"
    )
    assert len(index.calls) == 1
    assert "battery" in _call(tools, "read_segment", ReadSegmentArgs(segment_id="a#1"))
    assert "no segment" in _call(tools, "read_segment", ReadSegmentArgs(segment_id="b#2#0"))


def test_the_tools_without_a_scope_or_an_index() -> None:
    index = RecordingIndex()
    tools = agent_tools(index, DOCS)
    _call(tools, "search", SearchArgs(query="price", filters={"doc_id": "b#2"}))
    assert index.calls[-1]["doc_ids"] == ["b#2"] and index.calls[-1]["where"] is None
    # a segment of a document whose id holds a '#' is found
    assert "Pricing" in _call(tools, "read_segment", ReadSegmentArgs(segment_id="b#2#0"))
    reader_only = agent_tools(None, DOCS)  # triage: no search index
    assert reader_only.names() == ["read_segment"]


def test_evidence_in_source_places_the_quote_in_its_document() -> None:
    ev = Evidence(doc_id="a", segment_id="a#1", quote="battery died", speaker="someone")
    placed = evidence_in_source(ev, DOCS)
    assert placed is not None
    assert DOCS["a"].text[placed.start_char : placed.end_char] == "battery died"  # type: ignore[misc]
    assert (placed.speaker, placed.role, placed.start_time) == ("Bob", "participant", 10.0)
    assert check_evidence(placed, DOCS) is None
    assert evidence_in_source(ev.model_copy(update={"quote": "battery is fine"}), DOCS) is None
    assert evidence_in_source(ev.model_copy(update={"segment_id": "a#9"}), DOCS) is None
    assert evidence_in_source(ev.model_copy(update={"doc_id": "zz"}), DOCS) is None


def test_fill_evidence_keeps_what_it_cannot_place_for_the_gate() -> None:
    good = Evidence(doc_id="b#2", segment_id="b#2#0", quote="too high")
    bad = Evidence(doc_id="a", segment_id="a#0", quote="not in the text")
    f = Finding(id="f", task_key="t", doc_id="a", claim="c", evidence=[good, bad], confidence=1)
    out = fill_evidence(f, DOCS)
    assert out.evidence[0].start_char == DOCS["b#2"].text.index("too high")
    assert out.evidence[1] == bad  # unchanged: the quote gate drops it, with its reason


@pytest.mark.parametrize("shift", [0, 1])
def test_a_citation_converts_to_the_evidence_the_gate_checks(shift: int) -> None:
    start = DOCS["a"].text.index("remote")
    c = Citation(
        n=1,
        doc_id="a",
        segment_id="a#0",
        quote="remote",
        speaker="Ann",
        start_char=start + shift,
        end_char=start + shift + len("remote"),
        chunk_id="a@0-1",
    )
    ev = c.to_evidence()
    assert (ev.doc_id, ev.segment_id, ev.quote, ev.speaker, ev.chunk_id) == (
        "a", "a#0", "remote", "Ann", "a@0-1",
    )  # fmt: skip
    problem = check_evidence(ev, DOCS)
    assert (problem is None) == (shift == 0)  # offsets that miss the quote are caught
