"""Chunking by kind: a Chunk is a window of consecutive segments of one document.

- conversation: windows of `turns_per_chunk` speaker turns, `overlap` turns shared
  with the previous window;
- ticket: the title with the body, then the comments in windows of `comments_per_chunk`;
- code: one chunk per symbol segment (tiny neighbours merged), so a chunk is a
  function, a method, a class header or a run of module-level statements;
- text: consecutive paragraphs up to about `max_chars` characters.

`chunk.text` is the exact slice `doc.text[chunk.start_char:chunk.end_char]`; it starts at
the beginning of the first segment's line so that a speaker label is included.
Chunk metadata (the filter fields): the document's scalar metadata, attributes shared by
all its segments, `speakers` and one `speaker:<name>: True` flag per speaker, `symbols`,
line range, and doc_id / kind / title / source_path.
`search_text(chunk)` is what the indexes see: the chunk with a header naming its
document, path and symbols.
"""

from __future__ import annotations

from typing import Any

from retrieval.types import Chunk, Document, Segment

SMALL_CODE_LINES = 6


def _window_starts(n: int, size: int, overlap: int) -> list[int]:
    if n <= size:
        return [0]
    stride = max(1, size - overlap)
    starts = list(range(0, n - size + 1, stride))
    if starts[-1] + size < n:
        starts.append(n - size)
    return starts


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _make_chunk(doc: Document, segs: list[Segment]) -> Chunk:
    first, last = segs[0], segs[-1]
    line_start = doc.text.rfind("\n", 0, first.start_char) + 1
    prev_end = doc.segments[first.index - 1].end_char if first.index > 0 else 0
    start = max(line_start, prev_end) if first.index > 0 else min(line_start, first.start_char)
    end = last.end_char
    meta: dict[str, Any] = {k: v for k, v in doc.metadata.items() if _scalar(v)}
    # attributes shared by every segment of the chunk are chunk attributes (filters)
    shared = dict(first.attrs)
    for seg in segs[1:]:
        shared = {k: v for k, v in shared.items() if seg.attrs.get(k) == v}
    meta.update({k: v for k, v in shared.items() if _scalar(v)})
    speakers = sorted({s.speaker for s in segs if s.speaker})
    if speakers:
        meta["speakers"] = ", ".join(speakers)
        for name in speakers:  # filter with where={"speaker:<name>": True}
            meta[f"speaker:{name}"] = True
    symbols = [s.attrs["symbol"] for s in segs if isinstance(s.attrs.get("symbol"), str)]
    if symbols:
        meta["symbols"] = ", ".join(dict.fromkeys(symbols))
    if first.start_line is not None:
        meta["start_line"] = first.start_line
        meta["end_line"] = last.end_line if last.end_line is not None else last.start_line
    meta.update(
        doc_id=doc.id,
        kind=doc.kind,
        title=doc.title,
        source_path=doc.source_path,
        first_segment=first.index,
        last_segment=last.index,
    )
    times = [s.start_time for s in segs if s.start_time is not None]
    ends = [s.end_time if s.end_time is not None else s.start_time for s in segs]
    end_times = [t for t in ends if t is not None]
    return Chunk(
        id=f"{doc.id}@{first.index}-{last.index}",
        doc_id=doc.id,
        text=doc.text[start:end],
        segment_ids=[s.id for s in segs],
        start_char=start,
        end_char=end,
        start_time=min(times) if times else None,
        end_time=max(end_times) if end_times else None,
        metadata=meta,
    )


def _conversation(doc: Document, size: int, overlap: int) -> list[list[Segment]]:
    segs = doc.segments
    return [segs[s : s + size] for s in _window_starts(len(segs), size, overlap)]


def _ticket(doc: Document, comments_per_chunk: int) -> list[list[Segment]]:
    head = [s for s in doc.segments if s.attrs.get("field") != "comment"]
    comments = [s for s in doc.segments if s.attrs.get("field") == "comment"]
    groups = [head] if head else []
    for i in range(0, len(comments), comments_per_chunk):
        groups.append(comments[i : i + comments_per_chunk])
    return groups


def _code(doc: Document) -> list[list[Segment]]:
    groups: list[list[Segment]] = []
    for seg in doc.segments:
        lines = (seg.end_line or 0) - (seg.start_line or 0) + 1
        kind = seg.attrs.get("symbol_kind")
        small = lines < SMALL_CODE_LINES and kind in ("module", "class_body", "block")
        if groups and (small or _is_small_group(groups[-1])):
            groups[-1].append(seg)
        else:
            groups.append([seg])
    return groups


def _is_small_group(group: list[Segment]) -> bool:
    lines = (group[-1].end_line or 0) - (group[0].start_line or 0) + 1
    return lines < SMALL_CODE_LINES and all(
        s.attrs.get("symbol_kind") in ("module", "class_body", "block") for s in group
    )


def _text(doc: Document, max_chars: int) -> list[list[Segment]]:
    groups: list[list[Segment]] = []
    size = 0
    for seg in doc.segments:
        if groups and size + len(seg.text) <= max_chars:
            groups[-1].append(seg)
            size += len(seg.text)
        else:
            groups.append([seg])
            size = len(seg.text)
    return groups


def chunk_document(
    doc: Document,
    *,
    turns_per_chunk: int = 4,
    overlap: int = 1,
    comments_per_chunk: int = 3,
    max_chars: int = 1500,
) -> list[Chunk]:
    if not doc.segments:
        return []
    if doc.kind == "conversation":
        groups = _conversation(doc, turns_per_chunk, overlap)
    elif doc.kind == "ticket":
        groups = _ticket(doc, comments_per_chunk)
    elif doc.kind == "code":
        groups = _code(doc)
    else:
        groups = _text(doc, max_chars)
    return [_make_chunk(doc, g) for g in groups if g]


def chunk_documents(
    docs: list[Document],
    *,
    turns_per_chunk: int = 4,
    overlap: int = 1,
    comments_per_chunk: int = 3,
    max_chars: int = 1500,
) -> list[Chunk]:
    """Chunks of every document, in document order (see the module docstring for the rules)."""
    if turns_per_chunk < 1 or not 0 <= overlap < turns_per_chunk:
        raise ValueError("need turns_per_chunk >= 1 and 0 <= overlap < turns_per_chunk")
    out: list[Chunk] = []
    for doc in docs:
        out.extend(
            chunk_document(
                doc,
                turns_per_chunk=turns_per_chunk,
                overlap=overlap,
                comments_per_chunk=comments_per_chunk,
                max_chars=max_chars,
            )
        )
    return out


def search_text(chunk: Chunk) -> str:
    """The text the indexes see: a short header (title, path, symbols) then the chunk."""
    meta = chunk.metadata
    header: list[str] = []
    kind = meta.get("kind")
    if kind == "code":
        header.append(str(meta.get("source_path", "")))
        cls = meta.get("class")
        if cls:
            header.append(f"class {cls}")
        if meta.get("symbols"):
            header.append(str(meta["symbols"]))
    elif kind == "ticket":
        header.append(str(meta.get("title", "")))
    elif kind == "text" and meta.get("section"):
        header.append(str(meta["section"]))
    header = [h for h in header if h]
    return ("\n".join(header) + "\n" + chunk.text) if header else chunk.text
