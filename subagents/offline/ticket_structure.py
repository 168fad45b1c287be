"""The shape of a raw ticket, as features for the triage classifier's `structure` view.

What a tracker's forms leave in a ticket says much about its category, whatever the
project: which template it was filed with (its headings: "Steps to reproduce", "Expected
behavior", "Is your feature request related to a problem?"), whether it carries code,
a stack trace or version numbers, whether its title asks a question, and how long it is.
The words view sees the headings' words one by one among all the others; here each
heading is one feature, and the rest are a few counts and flags.

- headings: markdown headings (`## Steps to reproduce`) and lines that are bold alone
  (`**Describe the bug**`), lower-cased, letters only, joined by `_`. Only those that
  occur in at least `min_df` labelled tickets become features (a template, not a one-off).
- flags and counts: code fences, a stack trace, a version string, a question mark in the
  title, a title that opens like a question ("how", "is it possible", "why", ...), a
  question mark in the body, template comments, task-list boxes, images, links, the
  length of the body (log and four buckets) and of the title.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

_HEADING = re.compile(
    r"^\s{0,3}(?:#{1,6}\s*(.+?)\s*#*\s*$|\*\*([^*\n]{2,80})\*\*\s*:?\s*$|__([^_\n]{2,80})__\s*:?\s*$)",
    re.M,
)
_NOT_LETTERS = re.compile(r"[^a-z]+")
_FENCE = re.compile(r"```")
_TRACE = re.compile(
    r"Traceback \(most recent call last\)"  # Python
    r"|^\s+at [\w.$<>]+\("  # Java, JavaScript
    r"|^\s+File \"[^\"]+\", line \d+"  # Python frames
    r"|\b\w+(?:Error|Exception)\b:"  # a raised error's name
    r"|#\d+\s+0x[0-9a-f]+",  # native backtraces (gdb, lldb)
    re.M,
)
_VERSION = re.compile(r"\bv?\d+\.\d+(?:\.\d+)+\b")
_ASKS = re.compile(
    r"^\W*(how|is it possible|why|what|can|could|does|do|is|are|should|where|when|which"
    r"|any way|is there)\b",
    re.I,
)
_IMAGE = re.compile(r"!\[|\.png|\.gif|\.jpg")
_LINK = re.compile(r"https?://")

FLAG_NAMES = (
    "code_fence",
    "code_fences_log",
    "stack_trace",
    "version_string",
    "title_question_mark",
    "title_asks",
    "body_question_mark",
    "body_question_marks_log",
    "body_length_log",
    "body_lines_log",
    "template_comment",
    "task_boxes_log",
    "image",
    "link",
    "body_under_200",
    "body_200_to_1000",
    "body_1000_to_3000",
    "body_over_3000",
    "title_words",
)


def headings(body: str) -> list[str]:
    """The ticket's headings and bold lines, normalised (`steps_to_reproduce`)."""
    out = []
    for m in _HEADING.finditer(body):
        text = next(g for g in m.groups() if g)
        norm = _NOT_LETTERS.sub(" ", text.lower()).strip()
        if norm:
            out.append(norm.replace(" ", "_")[:60])
    return out


def flags(title: str, body: str) -> np.ndarray:
    """The counts and flags of `FLAG_NAMES`, in that order (each roughly within 0..1)."""
    n = len(body)
    fences = len(_FENCE.findall(body))
    values = [
        fences > 0,
        math.log1p(fences),
        bool(_TRACE.search(body)),
        bool(_VERSION.search(body)),
        "?" in title,
        bool(_ASKS.match(title)),
        "?" in body,
        math.log1p(body.count("?")),
        math.log1p(n) / 10,
        math.log1p(body.count("\n")) / 5,
        "<!--" in body,
        math.log1p(body.count("- [")),
        bool(_IMAGE.search(body)),
        bool(_LINK.search(body)),
        n < 200,
        200 <= n < 1000,
        1000 <= n < 3000,
        n >= 3000,
        len(title.split()) / 10,
    ]
    return np.array(values, dtype=float)


class StructureVectorizer:
    """Headings seen in at least `min_df` labelled tickets, then `FLAG_NAMES`; sparse rows."""

    def __init__(self, min_df: int = 3) -> None:
        self.min_df = min_df
        self.vocabulary: dict[str, int] = {}

    def fit(self, tickets: Sequence[tuple[str, str]]) -> StructureVectorizer:
        df = Counter(h for _, body in tickets for h in set(headings(body)))
        kept = sorted(h for h, c in df.items() if c >= self.min_df)
        self.vocabulary = {h: i for i, h in enumerate(kept)}
        return self

    def transform(self, tickets: Sequence[tuple[str, str]]) -> Any:
        from scipy import sparse

        rows, cols = [], []
        for r, (_, body) in enumerate(tickets):
            for h in set(headings(body)):
                j = self.vocabulary.get(h)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
        heads = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(tickets), len(self.vocabulary))
        )
        dense = (
            np.stack([flags(t, b) for t, b in tickets])
            if tickets
            else np.zeros((0, len(FLAG_NAMES)))
        )
        return sparse.hstack([heads, sparse.csr_matrix(dense)]).tocsr()

    def fit_transform(self, tickets: Sequence[tuple[str, str]]) -> Any:
        return self.fit(tickets).transform(tickets)

    @property
    def feature_names(self) -> list[str]:
        return [f"heading:{h}" for h in self.vocabulary] + list(FLAG_NAMES)
