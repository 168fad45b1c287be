"""The data model of the retrieval package: documents, their segments, chunks and hits.

A `Document` is one source file (or one record of a file: a ticket, a meeting). Its
`segments` are the units a person would cite: a speaker turn, a ticket field or
comment, a code symbol. Every segment keeps exact offsets back into the document's
`text`, so `doc.text[seg.start_char:seg.end_char] == seg.text` always holds; quotes
are checked against segment text, never against a paraphrase.

Other packages refer to these objects by id (strings), never hold them.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, Field

DocumentKind = Literal["conversation", "ticket", "code", "text"]


class Segment(BaseModel):
    """A citable unit of a document: a speaker turn, a ticket field or comment, a code symbol."""

    id: str  # f"{doc_id}#{index}"
    doc_id: str
    index: int
    text: str
    speaker: str | None = None
    start_char: int
    end_char: int
    start_time: float | None = None  # seconds from the start of the recording
    end_time: float | None = None
    start_line: int | None = None  # code: 1-based, inclusive
    end_line: int | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)


class Document(BaseModel):
    """One source document with its structure kept."""

    id: str  # stable: derived from the path relative to the corpus root
    kind: DocumentKind
    title: str
    source_path: str  # relative to the corpus root
    text: str  # segments are slices of this text
    segments: list[Segment]
    metadata: dict[str, Any] = Field(default_factory=dict)
    media_path: str | None = None  # audio/video the timestamps refer to, if any

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def segment(self, segment_id: str) -> Segment:
        for seg in self.segments:
            if seg.id == segment_id:
                return seg
        raise KeyError(segment_id)


class Chunk(BaseModel):
    """A retrieval unit: a window of consecutive segments of one document."""

    id: str  # f"{doc_id}@{first_segment_index}-{last_segment_index}"
    doc_id: str
    text: str
    segment_ids: list[str]
    start_char: int
    end_char: int
    start_time: float | None = None
    end_time: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


RetrieverName = Literal["bm25", "dense", "synthetic"]


class Hit(BaseModel):
    """One search result with its provenance: which retrievers found it, at what rank."""

    chunk_id: str
    doc_id: str
    score: float
    text: str
    segment_ids: list[str]
    ranks: dict[str, int] = Field(default_factory=dict)  # retriever -> 1-based rank
    matched_queries: list[str] = Field(default_factory=list)  # synthetic queries that matched
    metadata: dict[str, Any] = Field(default_factory=dict)


class SkippedFile(BaseModel):
    path: str
    reason: str


class LoadReport(BaseModel):
    """What a load produced: documents, files skipped with why, and warnings per file."""

    documents: list[Document]
    skipped: list[SkippedFile] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
