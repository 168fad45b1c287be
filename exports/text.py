"""Small text helpers shared by the deck, the report and the checks."""

from __future__ import annotations

import re
from typing import Any

from exports.spec import QuoteSpec, ReportSpec

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


def attribution(q: QuoteSpec) -> str:
    """Short attribution shown under a quote: speaker · document · time range."""
    parts = [q.speaker or "Unknown speaker", q.doc_title]
    tr = time_range(q)
    if tr:
        parts.append(tr)
    return "— " + " · ".join(parts)


def citation(q: QuoteSpec) -> str:
    """Full citation for speaker notes and the report: every id needed to find the source."""
    bits = [f"{q.speaker or 'Unknown speaker'}", f"{q.doc_title} (doc {q.doc_id})"]
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
