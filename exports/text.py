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
