"""The agent stack's shared parts, used by the engines, `ask`, triage and the judge alike:

- `IndexTools` / `agent_tools`: the one adapter from the index and the documents to the
  sub-agents' tools (`search`, `read_segment`), confined to a scope when one is given;
- `evidence_in_source`: the one place a quote's offsets (and its segment's speaker, role
  and times) are found in its source; `fill_evidence` applies it to a finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from subagents.findings import Evidence, Finding
from subagents.tools import ToolRegistry, read_segment_tool, search_tool

if TYPE_CHECKING:
    from retrieval.types import Document, Hit, Segment


class IndexTools:
    """`SearchBackend` + `SegmentReader` over the index and the documents, confined to
    `doc_ids` (None: all) and the metadata filter `where` (None: none)."""

    def __init__(
        self,
        index: Any,
        docs: Mapping[str, Document],
        *,
        doc_ids: list[str] | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> None:
        self.index = index
        self.docs = docs
        self.doc_ids = doc_ids
        self.where = dict(where) if where else None

    def search(
        self, query: str, *, k: int = 8, filters: Mapping[str, Any] | None = None
    ) -> list[Hit]:
        if self.index is None:
            raise KeyError("no search index here: read segments by id")
        where = dict(filters or {})
        doc_ids = self.doc_ids
        wanted = where.pop("doc_id", None)
        if wanted is not None:
            doc_ids = [str(wanted)] if doc_ids is None or str(wanted) in doc_ids else []
            if not doc_ids:
                return []
        if self.where:
            where = {"$and": [self.where, where]} if where else dict(self.where)
        return list(self.index.search(query, k=k, doc_ids=doc_ids, where=where or None))

    def read_segment(self, segment_id: str) -> Segment:
        doc_id = segment_id.rsplit("#", 1)[0]  # segment ids are f"{doc_id}#{index}"
        doc = self.docs.get(doc_id)
        if doc is None or (self.doc_ids is not None and doc_id not in self.doc_ids):
            raise KeyError(segment_id)
        return doc.segment(segment_id)


def agent_tools(
    index: Any,
    docs: Mapping[str, Document],
    *,
    doc_ids: list[str] | None = None,
    where: Mapping[str, Any] | None = None,
) -> ToolRegistry:
    """The sub-agents' tools over `index` and `docs`: `search` (when there is an index) and
    `read_segment`, both confined to `doc_ids` and `where` when given."""
    backend = IndexTools(index, docs, doc_ids=doc_ids, where=where)
    tools = [read_segment_tool(backend)]
    if index is not None:
        tools.insert(0, search_tool(backend))
    return ToolRegistry(tools)


def segment_of(docs: Mapping[str, Document], doc_id: str, segment_id: str) -> Segment | None:
    """The segment `segment_id` of document `doc_id`, or None when either is unknown."""
    doc = docs.get(doc_id)
    if doc is None:
        return None
    try:
        return doc.segment(segment_id)
    except KeyError:
        return None


def evidence_in_source(ev: Evidence, docs: Mapping[str, Document]) -> Evidence | None:
    """`ev` with the quote's offsets in its document, and the speaker, role and times of
    its segment; None when the segment is unknown or the quote is not verbatim in it."""
    seg = segment_of(docs, ev.doc_id, ev.segment_id)
    if seg is None or ev.quote not in seg.text:
        return None
    at = seg.start_char + seg.text.index(ev.quote)
    return Evidence(
        doc_id=ev.doc_id,
        segment_id=seg.id,
        chunk_id=ev.chunk_id,
        quote=ev.quote,
        speaker=seg.speaker or ev.speaker,
        role=seg.attrs.get("role"),
        start_time=seg.start_time,
        end_time=seg.end_time,
        start_char=at,
        end_char=at + len(ev.quote),
    )


def fill_evidence(f: Finding, docs: Mapping[str, Document]) -> Finding:
    """Offsets, speaker, role and times from the cited segments (the gate checks the quote);
    the prompt a finding names as its context gets the same. Evidence not found verbatim
    is left as it is (the gate drops it)."""
    update: dict[str, Any] = {"evidence": [evidence_in_source(ev, docs) or ev for ev in f.evidence]}
    if f.context is not None:
        update["context"] = evidence_in_source(f.context, docs) or f.context
    return f.model_copy(update=update)
