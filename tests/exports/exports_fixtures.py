"""Helpers for the exports tests: a realistic ReportSpec from the AMI meeting samples.

Themes are keyword groups; quotes are real turns (verbatim), with their neighbouring
turns as context. `sources` maps doc_id -> the meeting's full text, which the checks use.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from exports.charts import prevalence_data, render_chart
from exports.spec import FindingRow, QuoteSpec, ReportSpec, ThemeSpec

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "ami-meetings"
ENGINE_NOTE = "Produced by the offline engine (no language model was used)."

THEMES = {
    "battery": ("Batteries and power", ["battery", "batteries"]),
    "buttons": ("Too many buttons confuse users", ["buttons", "button"]),
    "price": ("Price and the twelve euro fifty target", ["price", "euro", "cost"]),
    "design": ("Look and feel: fancy, trendy design", ["fancy", "trendy", "look and feel"]),
    "speech": ("Speech recognition as a differentiator", ["speech recognition", "voice"]),
}


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\{\w+\}", "", text)).strip()


def load_meetings(limit: int | None = None) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for path in sorted(SAMPLES.glob("*.json"))[:limit]:
        turns = json.loads(path.read_text(encoding="utf-8"))["meeting_transcripts"]
        out[path.stem] = [{"speaker": t["speaker"], "content": clean(t["content"])} for t in turns]
    return out


def build_spec(
    run_dir: Path, *, quotes_per_theme: int = 3, long_quotes: bool = False
) -> tuple[ReportSpec, dict[str, str]]:
    meetings = load_meetings()
    sources = {doc: "\n".join(t["content"] for t in turns) for doc, turns in meetings.items()}
    themes: list[ThemeSpec] = []
    findings: list[FindingRow] = []
    assigned: set[str] = set()
    for tid, (label, words) in THEMES.items():
        docs: list[str] = []
        quotes: list[QuoteSpec] = []
        for doc, turns in meetings.items():
            hit = False
            for i, t in enumerate(turns):
                text = t["content"]
                if len(text) < 60 or not any(w in text.lower() for w in words):
                    continue
                hit = True
                if len(quotes) < quotes_per_theme + 2 and (long_quotes or len(text) < 400):
                    q = QuoteSpec(
                        text=text,
                        speaker=t["speaker"],
                        doc_id=doc,
                        doc_title=f"Meeting {doc}",
                        segment_id=f"{doc}#t{i}",
                        start_time=12.0 * i,
                        end_time=12.0 * i + 9.5,
                        context_before=turns[i - 1]["content"] if i else "",
                        context_after=turns[i + 1]["content"] if i + 1 < len(turns) else "",
                        confidence=0.7 + 0.05 * (len(quotes) % 4),
                    )
                    quotes.append(q)
                    findings.append(
                        FindingRow(
                            finding_id=f"f{len(findings) + 1}",
                            theme_id=tid,
                            doc_title=q.doc_title,
                            claim=f"{t['speaker']} talks about {label.lower()}.",
                            quote=text,
                            confidence=q.confidence or 0.5,
                            doc_id=doc,
                        )
                    )
            if hit:
                docs.append(doc)
        assigned.update(docs)
        if long_quotes:
            quotes.sort(key=lambda q: -len(q.text))
        themes.append(
            ThemeSpec(
                id=tid,
                label=label,
                summary=f"{len(docs)} of the {len(meetings)} meetings discuss {label.lower()}; "
                "the team returns to it when weighing features against the budget.",
                n_documents=len(docs),
                total_documents=len(meetings),
                quotes=quotes[:quotes_per_theme],
                keywords=words,
                confidence=0.8,
            )
        )
    spec = ReportSpec(
        title="What shapes the remote-control design?",
        question="What do design teams argue about?",
        engine="offline",
        engine_note=ENGINE_NOTE,
        created_at="2026-11-21T12:00:00+00:00",
        run_id="run-test-1",
        corpus_name="AMI meetings (samples)",
        n_documents=len(meetings),
        executive_summary=[
            f"{t.label}: {t.n_documents} of {t.total_documents} meetings." for t in themes
        ],
        themes=themes,
        unassigned=[f"Meeting {d}" for d in meetings if d not in assigned],
        findings=findings,
        method={
            "corpus": "AMI meetings (samples)",
            "engine": "offline",
            "models": ["all-MiniLM-L6-v2 (embeddings)"],
            "chunking": "speaker turns",
        },
        cost_usd=0.0,
    )
    chart = render_chart(
        "prevalence",
        prevalence_data(spec),
        run_dir,
        chart_id="theme_prevalence",
        title="How many meetings raise each theme",
    )
    spec.charts.append(chart)
    # the first theme gets its own chart: the same prevalence, its bar highlighted
    first = spec.themes[0]
    own = render_chart(
        "prevalence",
        {**prevalence_data(spec), "highlight": first.label},
        run_dir,
        chart_id=f"prevalence_{first.id}",
        title=f"{first.label}, among all themes",
    )
    spec.charts.append(own)
    spec.themes[0] = first.model_copy(update={"chart_id": own.id})
    return spec, sources


@dataclass
class AmiRun:
    run_dir: Path
    spec: ReportSpec
    sources: dict[str, str]
