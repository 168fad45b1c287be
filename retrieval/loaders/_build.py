"""Shared helpers for loaders: decoding bytes, and building a Document from its parts.

A loader describes a document as a list of `Part`s (the citable units, in order, each
with an optional label printed before it such as "Speaker: "). `build_document` lays
them out into one text and records each segment's exact offsets, so that
`doc.text[seg.start_char:seg.end_char] == seg.text` holds by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import UserInputError
from retrieval.types import Document, DocumentKind, Segment

BINARY_SNIFF_BYTES = 8192


@dataclass
class Part:
    text: str
    prefix: str = (
        ""  # printed before the text in the document (e.g. "Speaker: "), not part of the segment
    )
    speaker: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    start_line: int | None = None
    end_line: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decoded:
    text: str
    warning: str | None = None


def sniff_utf16(data: bytes) -> str | None:
    """ "utf-16" (with a BOM), "utf-16-le" / "utf-16-be" (without one: Latin-script text has a
    NUL in every other byte, on one side only), or None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = data[:BINARY_SNIFF_BYTES]
    head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    half = len(head) // 2
    for codec, zeros, other in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) >= 0.3 * half and other.count(0) <= 0.02 * half:
            try:
                text = data[: len(data) - len(data) % 2].decode(codec)
            except UnicodeDecodeError:
                return None
            return None if "\x00" in text else codec
    return None


def looks_binary(data: bytes) -> bool:
    """NUL bytes anywhere in `data` (the caller decides how much to look at), unless the
    bytes are UTF-16 text."""
    if sniff_utf16(data) is not None:
        return False
    return b"\x00" in data


def decode_bytes(data: bytes, display: str) -> Decoded:
    """UTF-8 first; otherwise decode line by line with a cp1252 / latin-1 fallback and say so.

    Line by line so that a file mixing UTF-8 and Windows-1252 lines keeps its UTF-8 lines.
    """
    codec = sniff_utf16(data)
    if codec is not None:
        return Decoded(data.decode(codec, errors="replace").lstrip("\ufeff"), None)
    try:
        return Decoded(data.decode("utf-8-sig"), None)
    except UnicodeDecodeError:
        pass
    out: list[str] = []
    first_bad: int | None = None
    used: set[str] = set()
    for lineno, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            out.append(raw.decode("utf-8"))
            continue
        except UnicodeDecodeError:
            pass
        if first_bad is None:
            first_bad = lineno
        try:
            out.append(raw.decode("cp1252"))
            used.add("cp1252")
        except UnicodeDecodeError:
            out.append(raw.decode("latin-1"))
            used.add("latin-1")
    text = "".join(out)
    if text.startswith("\ufeff"):
        text = text[1:]
    enc = " / ".join(sorted(used))
    return Decoded(
        text,
        f"{display}: not valid UTF-8 (first bad byte on line {first_bad}); "
        f"decoded those lines as {enc}. Re-save the file as UTF-8 if characters look wrong.",
    )


def read_text(path: Path, display: str) -> Decoded:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserInputError(f"{display}: cannot read the file ({exc.strerror or exc}).") from exc
    if looks_binary(data):  # the whole file: a NUL after the first 8 KiB counts too
        raise UserInputError(f"{display}: looks like a binary file (NUL bytes), not text.")
    return decode_bytes(data, display)


def build_document(
    *,
    doc_id: str,
    kind: DocumentKind,
    title: str,
    source_path: str,
    parts: list[Part],
    separator: str = "\n",
    metadata: dict[str, Any] | None = None,
    media_path: str | None = None,
) -> Document:
    pieces: list[str] = []
    segments: list[Segment] = []
    pos = 0
    for index, part in enumerate(parts):
        if index:
            pieces.append(separator)
            pos += len(separator)
        pieces.append(part.prefix)
        pos += len(part.prefix)
        start = pos
        pieces.append(part.text)
        pos += len(part.text)
        segments.append(
            Segment(
                id=f"{doc_id}#{index}",
                doc_id=doc_id,
                index=index,
                text=part.text,
                speaker=part.speaker,
                start_char=start,
                end_char=pos,
                start_time=part.start_time,
                end_time=part.end_time,
                start_line=part.start_line,
                end_line=part.end_line,
                attrs=dict(part.attrs),
            )
        )
    return Document(
        id=doc_id,
        kind=kind,
        title=title,
        source_path=source_path,
        text="".join(pieces),
        segments=segments,
        metadata=dict(metadata or {}),
        media_path=media_path,
    )


def slice_document(
    *,
    doc_id: str,
    kind: DocumentKind,
    title: str,
    source_path: str,
    text: str,
    spans: list[tuple[int, int, Part]],
    metadata: dict[str, Any] | None = None,
) -> Document:
    """A document whose text is kept as-is (code, prose) and whose segments are spans of it."""
    segments = [
        Segment(
            id=f"{doc_id}#{i}",
            doc_id=doc_id,
            index=i,
            text=text[start:end],
            speaker=part.speaker,
            start_char=start,
            end_char=end,
            start_time=part.start_time,
            end_time=part.end_time,
            start_line=part.start_line,
            end_line=part.end_line,
            attrs=dict(part.attrs),
        )
        for i, (start, end, part) in enumerate(spans)
    ]
    return Document(
        id=doc_id,
        kind=kind,
        title=title,
        source_path=source_path,
        text=text,
        segments=segments,
        metadata=dict(metadata or {}),
    )


def scalar_metadata(record: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    """Scalar fields of a record (str, int, float, bool), usable as filters; others dropped."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in skip or value is None:
            continue
        if isinstance(value, bool | int | float | str):
            if isinstance(value, str) and len(value) > 200:
                continue
            out[str(key)] = value
    return out
