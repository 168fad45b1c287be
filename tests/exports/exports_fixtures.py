"""Helpers for the exports tests: a realistic ReportSpec from the AMI meeting samples.

Themes are keyword groups, each with two codes; quotes are real turns, verbatim with
their transcript markup (`{vocalsound}`, `L_C_D_`) as `text` and as a reader sees them as
`display`, with the turn before them as the prompt that drew them and the turns around
them. The Project Manager plays the interviewer (a moderator of the meetings): their
turns are prompts, never quotes. `sources` maps doc_id -> the meeting's full raw text,
which the checks use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from exports.charts import prevalence_data, render_chart
from exports.spec import (
    CodeSpec,
    FindingRow,
    PartSpec,
    QuoteSpec,
    ReportSpec,
    RoleRow,
    ThemeSpec,
    TurnSpec,
)
from subagents.offline.text import clean

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "ami-meetings"
ENGINE_NOTE = "Produced by the offline engine (no language model was used)."
MODERATOR = "Project Manager"
ROLES = ["Industrial Designer", "Marketing", "User Interface"]

THEMES = {
    "battery": ("Batteries and power", ["battery", "batteries"]),
    "buttons": ("Too many buttons confuse users", ["buttons", "button"]),
    "price": ("Price and the twelve euro fifty target", ["price", "euro", "cost"]),
    "design": ("Look and feel: fancy, trendy design", ["fancy", "trendy", "look and feel"]),
    "speech": ("Speech recognition as a differentiator", ["speech recognition", "voice"]),
}
FLAGS = {"design": ["carried by one speaker role: 9 of 12 findings are Marketing's"]}


def load_meetings(limit: int | None = None) -> dict[str, list[dict[str, str]]]:
    """Turns as written in the corpus (markup kept), stripped of surrounding blanks."""
    out: dict[str, list[dict[str, str]]] = {}
    for path in sorted(SAMPLES.glob("*.json"))[:limit]:
        turns = json.loads(path.read_text(encoding="utf-8"))["meeting_transcripts"]
        out[path.stem] = [
            {"speaker": t["speaker"], "content": " ".join(t["content"].split())} for t in turns
        ]
    return out


def _turns(turns: list[dict[str, str]], i: int) -> list[TurnSpec]:
    out = []
    for j in range(max(0, i - 2), min(len(turns), i + 3)):
        text = clean(turns[j]["content"])
        own = j == i
        out.append(
            TurnSpec(
                speaker=turns[j]["speaker"],
                text=text,
                quote_start=0 if own else None,
                quote_end=len(text) if own else None,
            )
        )
    return out


def _quote(doc: str, turns: list[dict[str, str]], i: int, confidence: float) -> QuoteSpec:
    prev = turns[i - 1] if i else None
    return QuoteSpec(
        text=turns[i]["content"],
        display=clean(turns[i]["content"]),
        speaker=turns[i]["speaker"],
        role="participant",
        doc_id=doc,
        doc_title=f"Meeting {doc}",
        segment_id=f"{doc}#t{i}",
        start_time=12.0 * i,
        end_time=12.0 * i + 9.5,
        context_before=prev["content"] if prev else "",
        context_after=turns[i + 1]["content"] if i + 1 < len(turns) else "",
        prompt=clean(prev["content"]) if prev else None,
        prompt_speaker=prev["speaker"] if prev else None,
        turns=_turns(turns, i),
        confidence=confidence,
    )


def build_spec(
    run_dir: Path, *, quotes_per_theme: int = 3, long_quotes: bool = False
) -> tuple[ReportSpec, dict[str, str]]:
    meetings = load_meetings()
    sources = {doc: "\n".join(t["content"] for t in turns) for doc, turns in meetings.items()}
    themes: list[ThemeSpec] = []
    findings: list[FindingRow] = []
    assigned: set[str] = set()
    total_people = len(meetings) * len(ROLES)
    for tid, (label, words) in THEMES.items():
        docs: list[str] = []
        quotes: list[QuoteSpec] = []
        people: set[tuple[str, str]] = set()
        code_docs: dict[str, set[str]] = {w: set() for w in words}
        code_quotes: dict[str, list[QuoteSpec]] = {w: [] for w in words}
        for doc, turns in meetings.items():
            hit = False
            for i, t in enumerate(turns):
                text = t["content"]
                said = [w for w in words if w in text.lower()]
                if len(text) < 60 or not said or t["speaker"] == MODERATOR:
                    continue
                hit = True
                people.add((doc, t["speaker"]))
                q = _quote(doc, turns, i, 0.7 + 0.05 * (len(findings) % 5))
                q.finding_id = f"f{len(findings) + 1}"
                code_docs[said[0]].add(doc)
                if len(code_quotes[said[0]]) < 2 and len(text) < 400:
                    code_quotes[said[0]].append(q)
                if len(quotes) < quotes_per_theme + 2 and (long_quotes or len(text) < 400):
                    quotes.append(q)
                findings.append(
                    FindingRow(
                        finding_id=f"f{len(findings) + 1}",
                        theme_id=tid,
                        theme_label=label,
                        code_label=f"Mentions of {said[0]}",
                        doc_title=q.doc_title,
                        doc_id=doc,
                        speaker=q.speaker,
                        claim=None,  # offline: the finding is its quote
                        quote=text,
                        display=q.display,
                        prompt=q.prompt,
                        confidence=q.confidence or 0.5,
                    )
                )
            if hit:
                docs.append(doc)
        assigned.update(docs)
        if long_quotes:
            quotes.sort(key=lambda q: -len(q.shown))
        codes = [
            CodeSpec(
                label=f"Mentions of {w}",
                description=f"Participants name the {w} when they weigh the design.",
                n_documents=len(code_docs[w]),
                n_participants=len(code_docs[w]),
                quotes=code_quotes[w],
            )
            for w in words
            if code_docs[w]
        ]
        themes.append(
            ThemeSpec(
                id=tid,
                label=label,
                summary=f"{len(docs)} of the {len(meetings)} meetings discuss {label.lower()}; "
                "the team returns to it when weighing features against the budget.",
                description=f"The team weighs {label.lower()} against the budget and the users.",
                n_documents=len(docs),
                total_documents=len(meetings),
                n_participants=len(people),
                total_participants=total_people,
                quotes=quotes[:quotes_per_theme],
                codes=codes,
                keywords=words,
                confidence=0.8,
                flags=FLAGS.get(tid, []),
            )
        )
    unassigned = [f"Meeting {d}" for d in meetings if d not in assigned]
    # the question in two parts, each answered by the themes and quotes that fit it best
    parts = [
        PartSpec(
            question="What do design teams argue about?",
            theme_ids=[themes[0].id, themes[1].id],
            quotes=[*themes[0].quotes[:2], *themes[1].quotes[:1]],
        ),
        PartSpec(
            question="What worries them?",
            theme_ids=[themes[-1].id],
            quotes=themes[-1].quotes[:2],
        ),
    ]
    spec = ReportSpec(
        title="What shapes the remote-control design?",
        question="What do design teams argue about, and what worries them?",
        engine="offline",
        engine_note=ENGINE_NOTE,
        created_at="2026-11-21T12:00:00+00:00",
        run_id="run-test-1",
        corpus_name="AMI meetings (samples)",
        n_documents=len(meetings),
        noun="meetings",
        executive_summary=[
            f"{t.label}: {t.n_documents} of {t.total_documents} meetings "
            f"({t.n_participants} of {t.total_participants} participants)."
            for t in themes
        ],
        themes=themes,
        parts=parts,
        unassigned=unassigned,
        unassigned_reasons={d: "no participant speech about the question" for d in unassigned},
        not_analysed={"Réunion 7 (fr)": "written in another language (fr)"},
        speaker_roles=[
            RoleRow(
                doc_title=f"Meeting {d}",
                interviewers=[MODERATOR],
                participants=ROLES,
                how=f"{MODERATOR} asks the questions: read as the moderator",
            )
            for d in meetings
        ],
        reviewer_notes=[
            "Reviewer (critic): verdict pass; checked the findings and 5 themes",
            *[f"{THEMES[k][0]}: {f}" for k, v in FLAGS.items() for f in v],
        ],
        findings_csv="findings.csv",
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
    spec.charts.append(chart.model_copy(update={"caption": "Each theme: meetings, of all."}))
    sentiment = render_chart(
        "sentiment",
        {
            "themes": [t.label for t in spec.themes],
            "sentiments": ["positive", "neutral", "negative"],
            "counts": [[k + 1, 2, 3 - k % 3] for k in range(len(spec.themes))],
            "note": ENGINE_NOTE,
        },
        run_dir,
        chart_id="sentiment_by_theme",
        title="Sentiment of the findings in each theme",
    )
    spec.charts.append(sentiment.model_copy(update={"caption": "Each bar: one theme's findings."}))
    # every theme gets its own chart: its codes, the first its prevalence highlighted
    for k, t in enumerate(spec.themes):
        if k == 0:
            data = {**prevalence_data(spec), "highlight": t.label, "subtitle": "This theme"}
            own = render_chart(
                "prevalence", data, run_dir, chart_id=f"theme_{k + 1}", title=f"{t.label}"
            )
        else:
            bars = [{"label": "Whole theme", "n": t.n_documents, "total": t.total_documents}]
            bars += [
                {"label": c.label, "n": c.n_documents, "total": t.total_documents, "group": "code"}
                for c in t.codes
            ]
            data = {"bars": bars, "subtitle": "Meetings", "note": ENGINE_NOTE}
            own = render_chart(
                "breakdown", data, run_dir, chart_id=f"theme_{k + 1}", title=f"{t.label}: codes"
            )
        spec.charts.append(own)
        spec.themes[k] = t.model_copy(update={"chart_id": own.id})
    return spec, sources


@dataclass
class AmiRun:
    run_dir: Path
    spec: ReportSpec
    sources: dict[str, str]
