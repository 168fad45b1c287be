"""A tiny in-memory corpus index implementing the tools' SearchBackend and SegmentReader."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retrieval.types import Hit, Segment


class FakeIndex:
    """Keyword search over segments; one segment per chunk. Records queries."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = {s.id: s for s in segments}
        self.queries: list[str] = []

    def search(
        self, query: str, *, k: int = 8, filters: Mapping[str, Any] | None = None
    ) -> list[Hit]:
        self.queries.append(query)
        words = {w.lower() for w in query.split()}
        scored = []
        for seg in self.segments.values():
            if filters and any(
                (seg.doc_id if key == "doc_id" else seg.attrs.get(key)) != value
                for key, value in filters.items()
            ):
                continue
            score = sum(1 for w in seg.text.lower().split() if w.strip(".,!?") in words)
            if score:
                scored.append((score, seg))
        scored.sort(key=lambda x: (-x[0], x[1].id))
        return [
            Hit(
                chunk_id=f"{s.doc_id}@{s.index}-{s.index}",
                doc_id=s.doc_id,
                score=float(score),
                text=s.text,
                segment_ids=[s.id],
                metadata={"speaker": s.speaker, "start_time": s.start_time},
            )
            for score, s in scored[:k]
        ]

    def read_segment(self, segment_id: str) -> Segment:
        return self.segments[segment_id]


def segment(doc_id: str, index: int, text: str, speaker: str = "A", start: float = 0.0) -> Segment:
    return Segment(
        id=f"{doc_id}#{index}",
        doc_id=doc_id,
        index=index,
        text=text,
        speaker=speaker,
        start_char=0,
        end_char=len(text),
        start_time=start,
        end_time=start + 5.0,
    )
