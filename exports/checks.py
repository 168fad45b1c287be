"""Checks on rendered exports: quotes are verbatim, numbers match the spec.

They read the files back (the .pptx with python-pptx, the HTML with an HTML parser), so
they check what a stakeholder sees, not what the renderer meant to write.

- Quotes: every quote shape in the deck ("Quote <i>: <doc_id>"), every quote cell of its
  appendix tables, every `<q class="verbatim">` and quote cell in the HTML, every
  blockquote of the Markdown report. A quote is shown as a reader sees it (transcript
  markup such as `{vocalsound}` removed, `L_C_D_` read as `LCD`), so what is shown must be
  either an exact substring of its source text, or (a piece of) the `display` of a quote
  in the spec whose verbatim `text` is an exact substring of the source and which says
  the same words once the markup is set aside. Whitespace runs are collapsed on both
  sides: slides and HTML re-wrap lines, they must not change words. `sources` maps a doc
  id (or a segment id) to that text.
- Numbers: each theme's prevalence shown as `prevalence_label(n, N)`; every "a of b"
  (and "(p%)") outside quotes is a pair the spec contains (themes, codes, participants,
  documents outside the themes, speaker roles), with the right percentage; the deck's
  appendix shows `exports.text.appendix_groups(spec)` row for row; the method table
  shows the spec's document count and cost.
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
from exports.text import appendix_cells, appendix_groups, has_claims, md_unescape, money, norm_ws

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
    "check_spec_quotes",
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
                # the quote is the paragraph in quotation marks (a prompt line may precede it)
                paras = [p.text for p in shape.text_frame.paragraphs]
                first = next((t for t in paras if t.startswith("“")), paras[0])
                text = first.removeprefix("“").removesuffix("”")
                doc_id = shape.name.split(": ", 1)[1]
                found.append(FoundQuote(f"slide {n}, {shape.name!r}", text, doc_id))
    for n, rows in _tables(prs, "Appendix table"):
        col = rows[0].index("Quote") if rows and "Quote" in rows[0] else 3
        for r, row in enumerate(rows[1:], 1):
            found.append(
                FoundQuote(f"slide {n}, appendix row {r}", row[col].removesuffix("…"), None)
            )
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


_MARKUP = re.compile(r"\{[a-z_]+\}")
_NOT_WORD = re.compile(r"[\W_]+")


def same_words(verbatim: str, display: str) -> bool:
    """`display` says what `verbatim` says once transcript markup ({vocalsound}, L_C_D_)
    and punctuation spacing are set aside: the same letters and digits in the same order."""
    a = _NOT_WORD.sub("", _MARKUP.sub(" ", verbatim)).lower()
    return a == _NOT_WORD.sub("", display).lower()


@dataclass(frozen=True)
class _SpecQuote:
    display: str  # whitespace-normalised
    text: str
    doc_id: str | None


def _spec_quotes(spec: ReportSpec) -> dict[str | None, list[_SpecQuote]]:
    out: dict[str | None, list[_SpecQuote]] = {}
    for t in spec.themes:
        for q in [*t.quotes, *(x for c in t.codes for x in c.quotes)]:
            out.setdefault(q.doc_id, []).append(_SpecQuote(norm_ws(q.shown), q.text, q.doc_id))
    for q in (q for p in spec.parts for q in p.quotes):
        out.setdefault(q.doc_id, []).append(_SpecQuote(norm_ws(q.shown), q.text, q.doc_id))
    for f in spec.findings:
        sq = _SpecQuote(norm_ws(f.display or f.quote), f.quote, f.doc_id)
        out.setdefault(f.doc_id, []).append(sq)
    return out


def check_quotes(
    quotes: Iterable[FoundQuote], sources: Mapping[str, str], spec: ReportSpec | None = None
) -> list[Problem]:
    """Every quote shown is verbatim in its source, or (given `spec`) the display of a spec
    quote that is (see the module docstring)."""
    normalised = {k: norm_ws(v) for k, v in sources.items()}
    known = _spec_quotes(spec) if spec is not None else {}
    problems = []
    for q in quotes:
        text = norm_ws(q.text)
        if not text:
            problems.append(Problem(q.where, "empty quote"))
            continue
        if q.doc_id is not None and q.doc_id not in normalised:
            problems.append(Problem(q.where, f"no source text given for document {q.doc_id!r}"))
            continue
        srcs = [normalised[q.doc_id]] if q.doc_id is not None else list(normalised.values())
        if any(text in src for src in srcs):
            continue
        pool = (
            known.get(q.doc_id, [])
            if q.doc_id is not None
            else [k for items in known.values() for k in items]
        )
        shown_as = [k for k in pool if text in k.display]
        if not shown_as:
            where = f"in {q.doc_id!r}" if q.doc_id is not None else "in any source"
            problems.append(Problem(q.where, f"not verbatim {where}: {text[:80]!r}"))
            continue
        ok = any(
            same_words(k.text, k.display)
            and any(
                norm_ws(k.text) in normalised.get(d, "")
                for d in ([k.doc_id] if k.doc_id else list(normalised))
            )
            for k in shown_as
        )
        if not ok:
            problems.append(
                Problem(
                    q.where,
                    f"shown as a quote of the spec whose verbatim text is not in "
                    f"{q.doc_id or 'any source'!r}, or whose display changes its words: "
                    f"{text[:80]!r}",
                )
            )
    return problems


def check_spec_quotes(spec: ReportSpec, sources: Mapping[str, str]) -> list[Problem]:
    """Every quote of the spec: its verbatim text in its source, its display the same words."""
    normalised = {k: norm_ws(v) for k, v in sources.items()}
    problems = []
    for doc_id, items in _spec_quotes(spec).items():
        for k in items:
            src = normalised.get(doc_id or "")
            if src is None:
                if doc_id is None:
                    continue  # an appendix row without a doc id: the rendered checks find it
                problems.append(Problem(f"spec quote of {doc_id!r}", "no source text given"))
            elif norm_ws(k.text) not in src:
                problems.append(
                    Problem(f"spec quote of {doc_id!r}", f"not verbatim: {k.text[:80]!r}")
                )
            elif not same_words(k.text, k.display):
                problems.append(
                    Problem(
                        f"spec quote of {doc_id!r}", f"display changes words: {k.display[:80]!r}"
                    )
                )
    return problems


def check_deck_quotes(
    deck_path: Path, sources: Mapping[str, str], spec: ReportSpec | None = None
) -> list[Problem]:
    return check_quotes(deck_quotes(deck_path), sources, spec)


def check_report_quotes(
    html_path: Path, sources: Mapping[str, str], spec: ReportSpec | None = None
) -> list[Problem]:
    return check_quotes(report_quotes(html_path), sources, spec)


def _allowed_pairs(spec: ReportSpec) -> set[tuple[int, int]]:
    pairs = {(t.n_documents, t.total_documents) for t in spec.themes}
    pairs |= {(c.n_documents, t.total_documents) for t in spec.themes for c in t.codes}
    pairs |= {
        (t.n_participants, t.total_participants)
        for t in spec.themes
        if t.n_participants is not None and t.total_participants is not None
    }
    pairs.add((len(spec.unassigned), spec.n_documents))
    pairs.add((len(spec.not_analysed), spec.n_documents))
    roles = spec.speaker_roles
    pairs.add((sum(1 for r in roles if r.interviewers), len(roles)))
    return pairs | _text_pairs(spec)


def _text_pairs(spec: ReportSpec) -> set[tuple[int, int]]:
    """Pairs written in the spec's own prose (a reviewer's "3 of 5 findings", a prompt's
    "2 of 3 times", the method): shown as the spec says them. The executive summary is
    not among them: its counts must be the themes'."""
    texts: list[str] = [*spec.reviewer_notes, *spec.unassigned_reasons.values()]
    texts += [*spec.not_analysed.values(), *(r.how for r in spec.speaker_roles)]
    texts += [str(v) for v in spec.method.values()]
    for t in spec.themes:
        texts += [t.summary, t.description, *t.flags, *(c.description for c in t.codes)]
        quotes = [*t.quotes, *(q for c in t.codes for q in c.quotes)]
        texts += [q.prompt or "" for q in quotes]
    texts += [q.prompt or "" for p in spec.parts for q in p.quotes]
    texts += [f.prompt or "" for f in spec.findings]
    texts += [f.claim or "" for f in spec.findings]
    return {(int(m.group(1)), int(m.group(2))) for t in texts for m in _PAIR.finditer(t)}


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
            text = _shape_text(shape)
            if shape.name.startswith("Codes "):  # the bold paragraphs: "label: n of N ..."
                paras = shape.text_frame.paragraphs
                text = "\n".join(p.text for p in paras if p.runs and p.runs[0].font.bold)
            problems += _check_pairs(f"slide {n}, {shape.name!r}", text, allowed)
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
    claims = has_claims(spec)
    rows = [(n, row) for n, table in _tables(prs, "Appendix table") for row in table[1:]]
    shown = [(f, any(x.prompt for x in g.rows)) for g in appendix_groups(spec) for f in g.rows]
    if len(rows) != len(shown):
        problems.append(
            Problem("appendix", f"{len(rows)} rows for the {len(shown)} findings it should show")
        )
    for (n, row), (f, asked) in zip(rows, shown, strict=False):
        want_row = appendix_cells(f, claims, asked)
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
    problems: list[Problem] = check_spec_quotes(spec, sources)
    if markdown is not None:
        problems += check_quotes(markdown_quotes(markdown), sources, spec)
    if deck is not None:
        problems += check_deck_quotes(deck, sources, spec) + check_deck_numbers(deck, spec)
    if html is not None:
        problems += check_report_quotes(html, sources, spec) + check_report_numbers(html, spec)
    if problems:
        raise ExportCheckError(problems)
