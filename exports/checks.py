"""Checks on rendered exports: quotes are verbatim, numbers match the spec.

They read the files back (the .pptx with python-pptx, the HTML with an HTML parser), so
they check what a stakeholder sees, not what the renderer meant to write.

- Quotes: every quote shape in the deck ("Quote <i>: <doc_id>"), every quote cell of its
  appendix table, every `<q class="verbatim">` and quote cell in the HTML, every
  blockquote of the Markdown report must be an
  exact substring of its source text (whitespace runs collapsed on both sides: slides
  and HTML re-wrap lines, they must not change words). `sources` maps a doc id (or a
  segment id) to that text.
- Numbers: each theme's prevalence shown as `prevalence_label(n, N)`; every "a of b"
  (and "(p%)") outside quotes is a pair the spec contains, with the right percentage;
  the appendix table equals `spec.findings` row for row; the method table shows the
  spec's document count and cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pptx import Presentation

from exports.errors import ExportError
from exports.spec import ReportSpec
from exports.style import percent, prevalence_label
from exports.text import md_unescape, money, norm_ws

__all__ = [
    "ExportCheckError",
    "FoundQuote",
    "Problem",
    "assert_exports_ok",
    "check_deck_numbers",
    "check_deck_quotes",
    "check_quotes",
    "check_report_numbers",
    "check_report_quotes",
    "deck_quotes",
    "markdown_quotes",
    "report_quotes",
]

_PAIR = re.compile(r"\b(\d+) of (\d+)\b(?:\s*\((\d+)%\))?")


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ExportCheckError(ExportError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            f"{len(problems)} problem(s) in the exports:\n" + "\n".join(f"- {p}" for p in problems)
        )
        self.problems = problems


@dataclass(frozen=True)
class FoundQuote:
    where: str
    text: str
    doc_id: str | None  # None: search every source


# ---- reading the deck ----------------------------------------------------------------------


def _shape_text(shape: Any) -> str:
    return shape.text_frame.text if getattr(shape, "has_text_frame", False) else ""


def _tables(prs: Any, name: str) -> list[tuple[int, list[list[str]]]]:
    out = []
    for n, slide in enumerate(prs.slides, 1):
        for shape in slide.shapes:
            if getattr(shape, "has_table", False) and shape.name == name:
                rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
                out.append((n, rows))
    return out


def deck_quotes(deck_path: Path) -> list[FoundQuote]:
    prs = Presentation(str(deck_path))
    found = []
    for n, slide in enumerate(prs.slides, 1):
        for shape in slide.shapes:
            if shape.name.startswith("Quote ") and ": " in shape.name:
                first = shape.text_frame.paragraphs[0].text
                text = first.removeprefix("“").removesuffix("”")
                doc_id = shape.name.split(": ", 1)[1]
                found.append(FoundQuote(f"slide {n}, {shape.name!r}", text, doc_id))
    for n, rows in _tables(prs, "Appendix table"):
        for r, row in enumerate(rows[1:], 1):
            found.append(FoundQuote(f"slide {n}, appendix row {r}", row[3].removesuffix("…"), None))
    return found


# ---- reading the report --------------------------------------------------------------------


class _ReportParser(HTMLParser):
    QUOTE_CLASSES = frozenset({"verbatim", "excerpt", "quote-cell"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str], dict[str, str]]] = []
        self.quotes: list[tuple[str, str | None]] = []
        self.stats: dict[str, str] = {}
        self.plain: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = set(a.get("class", "").split())
        if tag in {"br", "img", "meta", "source", "input", "hr", "link"}:
            return
        self.stack.append((tag, classes, a))
        if classes & {"verbatim", "quote-cell", "stat"}:
            self._current = []

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            t, classes, a = self.stack.pop()
            if classes & {"verbatim", "quote-cell"} and self._current is not None:
                self.quotes.append(("".join(self._current), a.get("data-doc-id") or None))
                self._current = None
            elif "stat" in classes and self._current is not None:
                self.stats[a.get("data-theme-id", "")] = "".join(self._current)
                self._current = None
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)
        in_quote = any(c & self.QUOTE_CLASSES for _, c, _ in self.stack)
        in_head = any(t in {"style", "title", "script"} for t, _, _ in self.stack)
        if not in_quote and not in_head:
            self.plain.append(data)


def _parse_report(html_path: Path) -> _ReportParser:
    parser = _ReportParser()
    parser.feed(Path(html_path).read_text(encoding="utf-8"))
    parser.close()
    return parser


def report_quotes(html_path: Path) -> list[FoundQuote]:
    parser = _parse_report(html_path)
    return [
        FoundQuote(f"{Path(html_path).name}, quote {i}", text, doc_id)
        for i, (text, doc_id) in enumerate(parser.quotes, 1)
    ]


def markdown_quotes(md_path: Path) -> list[FoundQuote]:
    """Blockquotes of the Markdown report (the engine-note banner and attributions excluded)."""
    found: list[FoundQuote] = []
    block: list[str] = []
    lines = Path(md_path).read_text(encoding="utf-8").splitlines()
    for n, line in enumerate([*lines, ""], 1):
        if line.startswith(">"):
            text = md_unescape(line[1:].strip())
            if text and not text.startswith(("— ", "**")):
                block.append(text)
            elif not text and block:
                found.append(FoundQuote(f"{Path(md_path).name}, line {n}", " ".join(block), None))
                block = []
        elif block:
            found.append(FoundQuote(f"{Path(md_path).name}, line {n}", " ".join(block), None))
            block = []
    return found


# ---- the checks ----------------------------------------------------------------------------


def check_quotes(quotes: Iterable[FoundQuote], sources: Mapping[str, str]) -> list[Problem]:
    """Every quote is an exact (whitespace-normalised) substring of its source."""
    normalised = {k: norm_ws(v) for k, v in sources.items()}
    problems = []
    for q in quotes:
        text = norm_ws(q.text)
        if not text:
            problems.append(Problem(q.where, "empty quote"))
            continue
        if q.doc_id is not None:
            if q.doc_id not in normalised:
                problems.append(Problem(q.where, f"no source text given for document {q.doc_id!r}"))
            elif text not in normalised[q.doc_id]:
                problems.append(Problem(q.where, f"not verbatim in {q.doc_id!r}: {text[:80]!r}"))
        elif not any(text in src for src in normalised.values()):
            problems.append(Problem(q.where, f"not verbatim in any source: {text[:80]!r}"))
    return problems


def check_deck_quotes(deck_path: Path, sources: Mapping[str, str]) -> list[Problem]:
    return check_quotes(deck_quotes(deck_path), sources)


def check_report_quotes(html_path: Path, sources: Mapping[str, str]) -> list[Problem]:
    return check_quotes(report_quotes(html_path), sources)


def _allowed_pairs(spec: ReportSpec) -> set[tuple[int, int]]:
    pairs = {(t.n_documents, t.total_documents) for t in spec.themes}
    pairs.add((len(spec.unassigned), spec.n_documents))
    return pairs


def _check_pairs(where: str, text: str, allowed: set[tuple[int, int]]) -> list[Problem]:
    problems = []
    for m in _PAIR.finditer(text):
        a, b = int(m.group(1)), int(m.group(2))
        if (a, b) not in allowed:
            problems.append(Problem(where, f"'{m.group(0)}' is not a count in the spec"))
        elif m.group(3) is not None and int(m.group(3)) != percent(a, b):
            problems.append(Problem(where, f"'{m.group(0)}': {a} of {b} is {percent(a, b)}%"))
    return problems


def check_deck_numbers(deck_path: Path, spec: ReportSpec) -> list[Problem]:
    prs = Presentation(str(deck_path))
    problems: list[Problem] = []
    allowed = _allowed_pairs(spec)
    stats: dict[str, tuple[int, str]] = {}
    for n, slide in enumerate(prs.slides, 1):
        for shape in slide.shapes:
            if shape.name.startswith("Prevalence "):
                stats[shape.name.removeprefix("Prevalence ")] = (n, _shape_text(shape))
            if shape.name.startswith("Quote ") or shape.name == "Footer":
                continue
            problems += _check_pairs(f"slide {n}, {shape.name!r}", _shape_text(shape), allowed)
    for t in spec.themes:
        want = prevalence_label(t.n_documents, t.total_documents)
        if t.id not in stats:
            problems.append(Problem(f"theme {t.id!r}", "no prevalence shown on any slide"))
        elif not stats[t.id][1].startswith(want):
            problems.append(
                Problem(
                    f"slide {stats[t.id][0]}",
                    f"theme {t.id!r} shows {stats[t.id][1]!r}, spec says {want!r}",
                )
            )
    labels = {t.id: t.label for t in spec.themes}
    rows = [(n, row) for n, table in _tables(prs, "Appendix table") for row in table[1:]]
    if len(rows) != len(spec.findings):
        problems.append(Problem("appendix", f"{len(rows)} rows for {len(spec.findings)} findings"))
    for (n, row), f in zip(rows, spec.findings, strict=False):
        want_row = [
            labels.get(f.theme_id or "", f.theme_id or "—"),
            f.doc_title,
            f.claim or "",
            f.quote,
            f"{f.confidence:.2f}",
        ]
        if [norm_ws(c) for c in row] != [norm_ws(c) for c in want_row]:
            problems.append(
                Problem(f"slide {n}, appendix", f"row differs from finding {f.finding_id}")
            )
    method = {row[0]: row[1] for _, table in _tables(prs, "Method table") for row in table}
    for key, want in (
        ("Documents analysed", str(spec.n_documents)),
        ("Cost (USD)", money(spec.cost_usd)),
    ):
        if method.get(key) != want:
            problems.append(
                Problem("method slide", f"{key} is {method.get(key)!r}, spec says {want!r}")
            )
    return problems


def check_report_numbers(html_path: Path, spec: ReportSpec) -> list[Problem]:
    parser = _parse_report(html_path)
    problems = _check_pairs(Path(html_path).name, " ".join(parser.plain), _allowed_pairs(spec))
    for t in spec.themes:
        want = prevalence_label(t.n_documents, t.total_documents)
        got = norm_ws(parser.stats.get(t.id, ""))
        if not got.startswith(want):
            problems.append(Problem(f"theme {t.id!r}", f"report shows {got!r}, spec says {want!r}"))
    return problems


def assert_exports_ok(
    spec: ReportSpec,
    sources: Mapping[str, str],
    *,
    deck: Path | None = None,
    html: Path | None = None,
    markdown: Path | None = None,
) -> None:
    """Run every check on the given files; raise `ExportCheckError` listing all problems."""
    problems: list[Problem] = []
    if markdown is not None:
        problems += check_quotes(markdown_quotes(markdown), sources)
    if deck is not None:
        problems += check_deck_quotes(deck, sources) + check_deck_numbers(deck, spec)
    if html is not None:
        problems += check_report_quotes(html, sources) + check_report_numbers(html, spec)
    if problems:
        raise ExportCheckError(problems)
