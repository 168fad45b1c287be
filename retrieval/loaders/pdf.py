"""PDF transcripts: text PDFs as transcription and QDA tools export them (pypdf).

The text of each page is cleaned of what the page layout adds, then read as one
transcript by `retrieval.loaders.turns`:

- running headers and footers: a line at the top or bottom of a page that recurs at the
  edges of at least half the pages (digits ignored, so "Page 3 of 9" matches "Page 4 of
  9") and never inside a page's body; bare page numbers ("3", "3/9", "Page 3") at an edge;
- margin line numbers: runs of three or more lines that are consecutive integers;
- page-break repeats: when a page starts with the line(s) the previous page ended with
  (renderers repeat the line cut by the break), the repeat is dropped.

What is kept is laid out by `build_document`, so every segment's offsets are exact in
the document text; each turn carries the `page` it starts on. A PDF with no speaker
turns is kept as text (a segment per paragraph or page) with a warning; one without a
text layer (a scan) is refused with a reason, since it needs OCR first.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from pathlib import Path

from retrieval.errors import UserInputError
from retrieval.loaders._build import Part, build_document
from retrieval.loaders.turns import HEADER, INLINE, Line, join_line, parse_turns
from retrieval.types import Document

EDGE_LINES = 3  # how deep into the top and bottom of a page headers and footers are looked for
_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?\d{1,4}(?:\s*(?:/|of|von|de|sur)\s*\d{1,4})?$|^-\s*\d{1,4}\s*-$", re.I
)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")


def _norm(line: str) -> str:
    return _SPACES.sub(" ", line.replace("\u00ad", "")).strip()


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower())


def _is_label(key: str) -> bool:
    return bool(INLINE.match(key) or ((h := HEADER.match(key)) and (h.group("colon"))))


def read_pages(path: Path, display: str) -> list[str]:
    """The extracted text of each page (pypdf); UserInputError for unreadable files."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise UserInputError(f"{display}: reading PDF needs the pypdf package.") from exc
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed-but-readable files are common
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # missing crypto backend, unknown algorithm
                raise UserInputError(
                    f"{display}: the PDF is encrypted ({exc}); save an unprotected copy."
                ) from exc
            if not ok:
                raise UserInputError(
                    f"{display}: the PDF is password-protected; save an unprotected copy."
                )
        return [page.extract_text() or "" for page in reader.pages]
    except UserInputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UserInputError(f"{display}: not a readable PDF ({exc}).") from exc


def _drop_line_numbers(lines: list[str]) -> list[str]:
    """Runs of >= 3 consecutive integers, one per line: a margin's line numbers."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while (
            j < len(lines)
            and lines[j].isdigit()
            and (j == i or int(lines[j]) == int(lines[j - 1]) + 1)
        ):
            j += 1
        if j - i >= 3:
            i = j
            continue
        out.append(lines[i])
        i += 1
    return out


def clean_pages(raw_pages: list[str]) -> tuple[list[list[str]], dict[str, int]]:
    """Each page's body lines, without headers, footers, numbers and break repeats."""
    pages = [_drop_line_numbers([ln for ln in map(_norm, p.splitlines()) if ln]) for p in raw_pages]
    n = len(pages)

    def slots(lines: list[str]) -> list[tuple[int, tuple[str, int, str]]]:
        """(line index, (edge, depth, key)) for the lines near the top and the bottom."""
        out = [(i, ("top", i, _edge_key(lines[i]))) for i in range(min(EDGE_LINES, len(lines)))]
        for d in range(min(EDGE_LINES, len(lines))):
            i = len(lines) - 1 - d
            out.append((i, ("bottom", d, _edge_key(lines[i]))))
        return out

    # a running header or footer sits at the same depth from the same edge of most pages
    # (a speaker label that often starts a page is not one: it is what the page says)
    seen: Counter[tuple[str, int, str]] = Counter()
    for lines in pages:
        seen.update({slot for _, slot in slots(lines)})
    need = max(2, math.ceil(0.5 * n))
    running = {slot for slot, c in seen.items() if c >= need and not _is_label(slot[2])}
    stats = {"headers_footers": 0, "page_numbers": 0, "break_repeats": 0}
    cleaned: list[list[str]] = []
    for lines in pages:
        drop: dict[int, str] = {}
        for i, slot in slots(lines):
            if slot in running:
                drop[i] = "headers_footers"
            elif _PAGE_NUMBER.match(lines[i]):
                drop.setdefault(i, "page_numbers")
        for why in drop.values():
            stats[why] += 1
        cleaned.append([ln for i, ln in enumerate(lines) if i not in drop])
    for p in range(1, len(cleaned)):
        prev, cur = cleaned[p - 1], cleaned[p]
        for k in range(min(3, len(prev), len(cur)), 0, -1):
            if prev[-k:] == cur[:k] and len(" ".join(cur[:k])) >= 20:
                del cur[:k]
                stats["break_repeats"] += k
                break
    return cleaned, stats


def load_pdf(
    path: Path, *, doc_id: str, title: str, source_path: str
) -> tuple[Document, list[str]]:
    """A PDF as a transcript (or as text, with a warning); see the module docstring."""
    raw = read_pages(path, source_path)
    if not any(p.strip() for p in raw):
        raise UserInputError(
            f"{source_path}: the PDF has no text layer (a scan?); run OCR on it first."
        )
    pages, stats = clean_pages(raw)
    lines = [Line(ln, {"page": i + 1}) for i, page in enumerate(pages) for ln in page]
    metadata = {"pages": len(raw), **{f"dropped_{k}": v for k, v in stats.items() if v}}
    parsed = parse_turns(lines)
    if parsed is not None:
        metadata.update(turns=parsed.speaker_turns, speakers=len(parsed.speakers))
        doc = build_document(
            doc_id=doc_id,
            kind="conversation",
            title=title,
            source_path=source_path,
            parts=parsed.parts,
            metadata=metadata,
        )
        return doc, []
    parts: list[Part] = []
    for i, page in enumerate(pages):
        if page:
            text = ""
            for ln in page:
                text = join_line(text, ln)
            parts.append(Part(text=text, attrs={"page": i + 1}))
    doc = build_document(
        doc_id=doc_id,
        kind="text",
        title=title,
        source_path=source_path,
        parts=parts,
        separator="\n\n",
        metadata=metadata,
    )
    from retrieval.loaders.conversation import NO_TURNS

    return doc, [f"{source_path}: {NO_TURNS}, one segment per page."]
