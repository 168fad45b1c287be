"""Small text helpers shared by the deck, the report and the checks."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exports.spec import FindingRow, PartSpec, QuoteSpec, ReportSpec, ThemeSpec

_WS = re.compile(r"\s+")


def norm_ws(text: str) -> str:
    """Collapse runs of whitespace: a deck or HTML may re-wrap text; it must not change words."""
    return _WS.sub(" ", text).strip()


def timecode(seconds: float) -> str:
    """m:ss.t (or h:mm:ss.t), to a tenth of a second."""
    whole, frac = divmod(round(seconds * 10), 10)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}.{frac}" if h else f"{m}:{s:02d}.{frac}"


def time_range(q: QuoteSpec) -> str:
    if q.start_time is None:
        return ""
    if q.end_time is None:
        return timecode(q.start_time)
    return f"{timecode(q.start_time)}–{timecode(q.end_time)}"


def speaker_label(q: QuoteSpec) -> str | None:
    """Who said the quote: the speaker; "Unknown speaker" only in a conversation (or a
    source of unknown kind), where a turn without a speaker is worth saying. A ticket, a
    file or a text has an author or nothing, not a speaker: it is named by its document."""
    if q.speaker:
        return q.speaker
    return "Unknown speaker" if q.source_kind in (None, "conversation") else None


def attribution(q: QuoteSpec) -> str:
    """Short attribution shown under a quote: speaker · document · time range."""
    who = speaker_label(q)
    parts = [*([who] if who else []), q.doc_title]
    tr = time_range(q)
    if tr:
        parts.append(tr)
    return "— " + " · ".join(parts)


def citation(q: QuoteSpec) -> str:
    """Full citation for speaker notes and the report: every id needed to find the source."""
    who = speaker_label(q)
    bits = [*([who] if who else []), f"{q.doc_title} (doc {q.doc_id})"]
    bits.append(f"segment {q.segment_id}")
    tr = time_range(q)
    if tr:
        bits.append(tr)
    if q.confidence is not None:
        bits.append(f"confidence {q.confidence:.2f}")
    if q.media_path:
        bits.append(f"clip {q.media_path}")
    return ", ".join(bits)


def confidence_text(value: float | None) -> str:
    return "not rated" if value is None else f"{value:.2f}"


def money(value: float) -> str:
    return f"${value:,.2f}"


def method_rows(spec: ReportSpec) -> list[tuple[str, str]]:
    """The method slide/section: fixed facts first, then whatever else spec.method holds."""
    method: dict[str, Any] = dict(spec.method)
    rows: list[tuple[str, str]] = [
        ("Corpus", str(method.pop("corpus", spec.corpus_name))),
        ("Documents analysed", str(spec.n_documents)),
        ("Engine", spec.engine_note),
    ]
    models = method.pop("models", None) or method.pop("model", None)
    if models:
        rows.append(("Models", ", ".join(models) if isinstance(models, list) else str(models)))
    method.pop("engine", None)
    method.pop("cost_usd", None)
    method.pop("cost", None)
    rows.append(("Cost (USD)", money(spec.cost_usd)))
    rows.append(("Date", str(method.pop("date", spec.created_at))))
    rows.append(("Run", spec.run_id))
    for key, value in method.items():
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = "; ".join(f"{k}: {v}" for k, v in value.items())
        rows.append((str(key).replace("_", " ").capitalize(), str(value)))
    return rows


# ---- what a theme, a quote and the appendix show ---------------------------------------------

APPENDIX_PER_THEME = 8  # findings per theme in the deck's appendix (all of them in the CSV)
APPENDIX_MIN = 3  # ... and at least this many, even when their quotes are long
APPENDIX_LINES = 25.0  # about a slide of table lines at 10 pt, as the deck paginates them
PROMPT_CHARS = 220  # the end of a long prompt is kept: the question is usually there
APPENDIX_PROMPT_CHARS = 120


def people(n: int | None, total: int | None) -> str:
    """'7 of 8 participants' when speaker roles are known, else ''."""
    if n is None:
        return ""
    return f"{n} of {total} participants" if total else f"{n} participants"


def tail(text: str, limit: int) -> str:
    """The end of `text`, at most `limit` characters, cut at a word with a leading '…'."""
    text = norm_ws(text)
    if len(text) <= limit:
        return text
    cut = text[-(limit - 1) :]
    if " " in cut[: limit // 2]:
        cut = cut[cut.index(" ") + 1 :]
    return "…" + cut


def shorten(text: str, limit: int) -> str:
    """The start of `text`, at most `limit` characters, cut at a word with a trailing '…'."""
    text = norm_ws(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:") + "…"


def interviewers_by_doc(spec: ReportSpec) -> dict[str, set[str]]:
    return {r.doc_title: set(r.interviewers) for r in spec.speaker_roles}


def prompt_line(
    q: QuoteSpec, interviewers: dict[str, set[str]], limit: int | None = PROMPT_CHARS
) -> str | None:
    """What drew the quote: 'Asked by Dan: “…”' (an interviewer's turn or a question),
    'In reply to Marketing: “…”' (the turn it answers in a meeting), 'Re: “…”' (what it
    answers without a speaker: a ticket's title); None without one."""
    if not q.prompt:
        return None
    text = tail(q.prompt, limit) if limit else norm_ws(q.prompt)
    who = q.prompt_speaker
    asked = (who is not None and who in interviewers.get(q.doc_title, set())) or text.endswith("?")
    if who:
        return f"Asked by {who}: “{text}”" if asked else f"In reply to {who}: “{text}”"
    return f"Asked: “{text}”" if asked else f"Re: “{text}”"


def has_claims(spec: ReportSpec) -> bool:
    """A Claim column only when some finding says more than its quote (the model engine)."""
    return any(f.claim for f in spec.findings)


@dataclass(frozen=True)
class AppendixGroup:
    title: str  # the theme's label, or "No theme"
    theme_id: str | None
    rows: list[FindingRow]  # the findings shown (at most `per_theme`)
    total: int  # the group's findings in all


def appendix_groups(spec: ReportSpec, per_theme: int = APPENDIX_PER_THEME) -> list[AppendixGroup]:
    """The deck's appendix: per theme (in the spec's order), then the findings with no
    theme, at most `per_theme` each and about a slide's worth: the most confident first,
    one per document before a document gets a second; shown in their table order."""
    labels = {t.id: t.label for t in spec.themes}
    order = [t.id for t in spec.themes]
    by_theme: dict[str | None, list[FindingRow]] = {}
    for f in spec.findings:
        key = f.theme_id if f.theme_id in labels else None
        by_theme.setdefault(key, []).append(f)
    groups = []
    for key in [*order, None]:
        rows = by_theme.get(key, [])
        if not rows:
            continue
        ranked = sorted(rows, key=lambda f: -f.confidence)
        picked: list[FindingRow] = []
        seen: set[str] = set()
        for f in ranked:  # one per document first
            if len(picked) < per_theme and (f.doc_id or f.doc_title) not in seen:
                picked.append(f)
                seen.add(f.doc_id or f.doc_title)
        for f in ranked:
            if len(picked) < per_theme and f not in picked:
                picked.append(f)
        picked = _within_a_page(picked)
        keep = {id(f) for f in picked}
        shown = [f for f in rows if id(f) in keep]
        title = labels[key] if key else "findings in no theme"
        groups.append(AppendixGroup(title, key, shown, len(rows)))
    return groups


def _within_a_page(ranked: list[FindingRow]) -> list[FindingRow]:
    """The leading rows that fill about one slide of the appendix table (at least
    `APPENDIX_MIN`): long quotes make for fewer rows rather than a slide with one row."""
    out: list[FindingRow] = []
    used = 0.0
    for f in ranked:
        quote = len(f.display or f.quote)
        prompt = min(len(f.prompt or ""), APPENDIX_PROMPT_CHARS)
        lines = max(math.ceil(quote / 100), math.ceil(prompt / 44), 1) + 0.7
        if len(out) >= APPENDIX_MIN and used + lines > APPENDIX_LINES:
            break
        out.append(f)
        used += lines
    return out


def appendix_head(claims: bool, asked: bool = True) -> list[str]:
    """The appendix columns: an Asked column when some row has a prompt, a Claim column
    when some finding has a claim of its own."""
    head = ["Code", "Document · speaker", *(["Asked"] if asked else []), "Quote"]
    return [*head, "Claim", "Conf."] if claims else [*head, "Conf."]


def appendix_cells(f: FindingRow, claims: bool, asked: bool = True) -> list[str]:
    """One appendix row as shown (the quote as a reader sees it, markup removed)."""
    who = f.doc_title + (f" · {f.speaker}" if f.speaker else "")
    cells = [f.code_label or "—", who]
    if asked:
        cells.append(tail(f.prompt, APPENDIX_PROMPT_CHARS) if f.prompt else "")
    cells.append(f.display or f.quote)
    if claims:
        cells.append(f.claim or "")
    return [*cells, f"{f.confidence:.2f}"]


def role_rows(spec: ReportSpec) -> list[list[str]]:
    """Who was treated as interviewer, per document; documents whose roles read the same
    way (say, every meeting of a series with no interviewer) share one row."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for r in spec.speaker_roles:
        key = (", ".join(r.interviewers) or "none", ", ".join(r.participants), r.how)
        grouped.setdefault(key, []).append(r.doc_title)
    return [[", ".join(docs), *key] for key, docs in grouped.items()]


def part_lead(
    part: PartSpec,
    themes: Sequence[ThemeSpec],
    noun: str,
    name: Callable[[ThemeSpec], str] = lambda t: f"“{t.label}”",
) -> str | None:
    """The themes that answer a part of the question most, with their prevalence:
    'Themes that answer it most: “Buttons” (11 of 12 meetings) · “Battery” (4 of 12)'.
    `name` writes a theme's name (the report makes it a link to the theme)."""
    by_id = {t.id: t for t in themes}
    named = [by_id[i] for i in part.theme_ids if i in by_id]
    if not named:
        return None
    bits = [
        f"{name(t)} ({t.n_documents} of {t.total_documents}" + (f" {noun})" if k == 0 else ")")
        for k, t in enumerate(named)
    ]
    return "Themes that answer it most: " + " · ".join(bits)


def theme_of_quote(spec: ReportSpec, q: QuoteSpec) -> str | None:
    """The label of the theme whose finding `q` is (by its finding id, else by its words)."""
    rows = [f for f in spec.findings if f.finding_id == q.finding_id] if q.finding_id else []
    rows = rows or [f for f in spec.findings if f.doc_id == q.doc_id and f.quote == q.text]
    return next((f.theme_label for f in rows if f.theme_label), None)


# ---- untrusted text in Markdown and on a terminal -------------------------------------------

# C0 controls but tab and newline, DEL, C1 controls (a terminal reads ESC and CSI from
# either), and the bidirectional overrides that reorder what a reader sees
CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Markdown punctuation that makes markup anywhere in a line (links, images, emphasis,
# code, raw HTML, entities, tables, strikethrough)
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~])")
# at the start of a line: headings, lists, block quotes, setext underlines, fences
_MD_LINE_MARK = re.compile(r"^([#+\-=])")
_MD_LINE_NUMBER = re.compile(r"^(\d+)([.)])")
_MD_UNESCAPE = re.compile(r"\\([\\`*_\[\]|~#+\-=>.)])")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


def clean_text(text: object) -> str:
    """Text safe to show: C0/C1 control characters (ESC, NUL...) and bidi overrides dropped;
    tabs and newlines kept (a CR LF line end becomes LF). Every corpus- or model-derived
    string goes through it before a terminal or a file shows it."""
    return CONTROL_CHARS.sub("", str(text).replace("\r\n", "\n"))


def md_text(text: object) -> str:
    """One line of Markdown that renders as exactly `text`: controls dropped, newlines
    folded to spaces, every character that could start markup escaped (so raw HTML, links,
    images, headings and emphasis in corpus text stay text)."""
    line = " ".join(clean_text(text).split())
    line = _MD_INLINE.sub(r"\\\1", line)
    line = line.replace("\\&", "&amp;").replace("\\<", "&lt;").replace("\\>", "&gt;")
    line = _MD_LINE_MARK.sub(r"\\\1", line)
    return _MD_LINE_NUMBER.sub(r"\1\\\2", line)


def md_lines(text: object) -> list[str]:
    """`md_text` for each line of a multi-line text (a quote keeps its line breaks)."""
    return [md_text(line) for line in clean_text(text).split("\n")] or [""]


def md_unescape(line: str) -> str:
    """The text `md_text` escaped (for checks that read a quote back out of report.md)."""
    out = _MD_UNESCAPE.sub(r"\1", line)
    for entity, char in _ENTITIES.items():
        out = out.replace(entity, char)
    return out


def headline(text: object, limit: int = 100) -> str:
    """One line of at most `limit` characters for a title: cut at a word, with an ellipsis.
    A 10,000-character question stays whole in the body and the notes, not in a title."""
    line = " ".join(clean_text(text).split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…"
