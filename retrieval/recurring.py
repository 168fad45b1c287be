"""Text that recurs across many documents: an interview guide read out, a ticket template.

A sentence that many documents share word for word ("### How often does this bug
happen?", "So my first question is...") was written once and pasted or read out; it is
the corpus's scaffolding, not what a participant or a reporter said, so it is never
evidence. `find_recurring` finds it by counting, per normalised sentence and per
8-word shingle, how many distinct documents contain it; `annotate_recurring` records the
spans on each segment (`attrs["recurring"]`, offsets relative to the segment text).

The threshold is a count of documents. A long sentence or shingle (8 words or more) in
three documents is scaffolding whatever the corpus size: people do not say the same eight
words in three separate interviews, and tickets share them only through a template (of
which a tracker keeps several versions, each in a few tickets). A short sentence (3 to 7
words) needs `max(3, 1% of the corpus)`: "steps to reproduce" is a template's, "I have
the same problem" is a me-too, neither is evidence. So does a line of one or two words
("### Current behavior", "Embedder: codespaces"): a template's heading or field, or a
"Yeah." that is no evidence either.

A markup comment (`<!-- Please provide a minimal reproduction -->`) is scaffolding too,
however few documents share it: an issue template's hidden instructions, which nobody
reading the ticket sees and the reporter did not write. Its span joins the recurring ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from retrieval.types import Document

_PIECE = re.compile(r"[^\n.?!]+[.?!]*")
_MARKUP_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)  # an unclosed one runs to the end
_WORD = re.compile(r"[a-z0-9']+")
MIN_WORDS = 3
SHINGLE = 8
MIN_DOCS = 3
MIN_SHARE = 0.01  # of the corpus, for short sentences


def recurring_threshold(n_docs: int, words: int = MIN_WORDS) -> int:
    """Documents a sentence of `words` words must share to be scaffolding (module doc)."""
    if words >= SHINGLE:
        return MIN_DOCS
    return max(MIN_DOCS, math.ceil(MIN_SHARE * n_docs))


def _pieces(text: str) -> list[tuple[int, int, list[str]]]:
    out = []
    for m in _PIECE.finditer(text):
        words = _WORD.findall(m.group(0).lower())
        if words:
            out.append((m.start(), m.end(), words))
    return out


def _counted(text: str, start: int, end: int, words: list[str]) -> bool:
    """A piece long enough to count, or a short one that is a whole line (a heading)."""
    if len(words) >= MIN_WORDS:
        return True
    before = text.rfind("\n", 0, start)
    after = text.find("\n", end)
    line = text[before + 1 : len(text) if after < 0 else after]
    return line.strip() == text[start:end].strip()


def _doc_counts(keys: list[int], owners: list[int]) -> dict[int, int]:
    """Distinct documents per key, kept only for keys present in at least two."""
    if not keys:
        return {}
    pairs = np.unique(np.array([keys, owners], dtype=np.int64), axis=1)
    uniq, counts = np.unique(pairs[0], return_counts=True)
    keep = counts >= 2
    return dict(zip(uniq[keep].tolist(), counts[keep].tolist(), strict=True))


def find_recurring(docs: Sequence[Document]) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """Per document, per segment id: the [start, end) spans (segment offsets) that recur.

    Sentences and shingles are hashed and counted per distinct document with numpy, so
    memory stays proportional to the corpus's words (tens of thousands of tickets)."""
    if len(docs) < MIN_DOCS:
        return {}
    need_short = recurring_threshold(len(docs))
    piece_keys: list[int] = []
    piece_owner: list[int] = []
    sh_keys: list[int] = []
    sh_owner: list[int] = []
    layout: list[list[tuple[str, list[tuple[int, int, list[str]]]]]] = []
    for d, doc in enumerate(docs):
        segs = []
        for seg in doc.segments:
            pieces = [(a, b, w) for a, b, w in _pieces(seg.text) if _counted(seg.text, a, b, w)]
            segs.append((seg.id, pieces))
            for _, _, words in pieces:
                piece_keys.append(hash(tuple(words)))
                piece_owner.append(d)
                for i in range(len(words) - SHINGLE + 1):
                    sh_keys.append(hash(tuple(words[i : i + SHINGLE])))
                    sh_owner.append(d)
        layout.append(segs)
    piece_docs = _doc_counts(piece_keys, piece_owner)
    shingle_docs = _doc_counts(sh_keys, sh_owner)
    del piece_keys, piece_owner, sh_keys, sh_owner
    out: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for doc, segs in zip(docs, layout, strict=True):
        for seg_id, pieces in segs:
            spans = []
            for start, end, words in pieces:
                need = MIN_DOCS if len(words) >= SHINGLE else need_short
                if piece_docs.get(hash(tuple(words)), 0) >= need:
                    spans.append((start, end))
                    continue
                if len(words) < SHINGLE:
                    continue
                covered = [False] * len(words)
                for i in range(len(words) - SHINGLE + 1):
                    if shingle_docs.get(hash(tuple(words[i : i + SHINGLE])), 0) >= MIN_DOCS:
                        covered[i : i + SHINGLE] = [True] * SHINGLE
                if sum(covered) >= 0.5 * len(words):
                    spans.append((start, end))
            if spans:
                out.setdefault(doc.id, {})[seg_id] = spans
    return out


def annotate_recurring(docs: Sequence[Document]) -> int:
    """Record recurring spans on the segments; returns how many segments have some."""
    found = find_recurring(docs)
    n = 0
    for doc in docs:
        spans = found.get(doc.id, {})
        for seg in doc.segments:
            hidden = [(m.start(), m.end()) for m in _MARKUP_COMMENT.finditer(seg.text)]
            marked = sorted([*spans.get(seg.id, []), *hidden])
            if marked:
                seg.attrs["recurring"] = [list(s) for s in marked]
                n += 1
            else:
                seg.attrs.pop("recurring", None)
    return n
