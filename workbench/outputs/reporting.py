"""Turn a run's findings and themes into the exports' ReportSpec, check it, render it.

Before anything is written, every quote the outputs will show is checked once more
against its source segment; a quote that is not verbatim stops the export.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from exports.spec import (
    ChartSpec,
    CodeSpec,
    FindingRow,
    PartSpec,
    QuoteSpec,
    ReportSpec,
    RoleRow,
    ThemeSpec,
    TurnSpec,
)
from retrieval.types import Document, Segment
from subagents.findings import Evidence, Finding, Synthesis
from subagents.outputs import CriticOutput
from workbench.core.errors import RunError
from workbench.core.events import Event
from workbench.outputs.media import attach_clips
from workbench.outputs.qda import write_qdpx_for_run, write_run_codebook
from workbench.runs.store import now_iso

if TYPE_CHECKING:
    from workbench.runs.context import RunContext

CONTEXT_CHARS = 280
CONTEXT_TURNS = 2  # turns shown before and after a quote's own turn


def _turn(seg: Segment, quote: str | None = None) -> TurnSpec:
    from subagents.offline.text import clean

    text = clean(seg.text)
    start = end = None
    if quote:
        shown = clean(quote)
        at = text.find(shown)
        if at >= 0:
            start, end = at, at + len(shown)
    return TurnSpec(speaker=seg.speaker, text=text, quote_start=start, quote_end=end)


def quote_spec(
    ev: Evidence, doc: Document, confidence: float | None, context: Evidence | None = None
) -> QuoteSpec:
    from subagents.offline.text import clean

    seg = doc.segment(ev.segment_id)
    before = " ".join(s.text for s in doc.segments[max(0, seg.index - 2) : seg.index])
    after = " ".join(s.text for s in doc.segments[seg.index + 1 : seg.index + 3])
    lo = max(0, seg.index - CONTEXT_TURNS)
    # turns around it that say something once markup is removed (not a lone {vocalsound})
    turns = [t for t in map(_turn, doc.segments[lo : seg.index]) if t.text.strip()]
    turns.append(_turn(seg, ev.quote))
    turns += [
        t
        for t in map(_turn, doc.segments[seg.index + 1 : seg.index + 1 + CONTEXT_TURNS])
        if t.text.strip()
    ]
    return QuoteSpec(
        text=ev.quote,
        display=clean(ev.quote),
        speaker=ev.speaker,
        role=ev.role,
        doc_id=doc.id,
        doc_title=doc.title,
        segment_id=seg.id,
        source_kind=doc.kind,
        start_time=ev.start_time,
        end_time=ev.end_time,
        context_before=before[-CONTEXT_CHARS:],
        context_after=after[:CONTEXT_CHARS],
        prompt=clean(context.quote) if context is not None else None,
        prompt_speaker=context.speaker if context is not None else None,
        turns=turns,
        confidence=confidence,
    )


def _finding_quote(f: Finding, docs: dict[str, Document]) -> QuoteSpec:
    q = quote_spec(f.evidence[0], docs[f.doc_id], f.confidence, f.context)
    return q.model_copy(update={"finding_id": f.id})


def _people(n: int | None, total: int | None) -> str:
    return f" ({n} of {total} participants)" if n is not None and total else ""


def build_spec(
    ctx: RunContext,
    findings: Sequence[Finding],
    synthesis: Synthesis,
    charts: Sequence[ChartSpec],
    critique: CriticOutput | None = None,
) -> ReportSpec:
    from subagents.offline.text import clean

    docs = ctx.corpus.by_id()
    note = ctx.engine_note
    cost = ctx.cost_usd()
    fmap = {f.id: f for f in findings}
    noun = ctx.corpus.noun
    n_docs = len(ctx.corpus.documents)
    chart_ids = {c.id for c in charts}
    prevalence_chart = "theme_prevalence" if "theme_prevalence" in chart_ids else None
    themes = []
    theme_of: dict[str, str] = {}
    label_of: dict[str, str] = {}
    code_of: dict[str, str] = {}
    for n, t in enumerate(synthesis.themes, start=1):
        reps = [fmap[i] for i in t.representative_finding_ids if i in fmap]
        codes = [
            CodeSpec(
                label=c.label,
                description=c.description,
                n_documents=c.n_documents,
                n_participants=c.n_participants,
                quotes=[
                    _finding_quote(fmap[i], docs)
                    for i in c.representative_finding_ids[:2]
                    if i in fmap
                ],
            )
            for c in t.codes
        ]
        conf = sum(fmap[i].confidence for i in t.finding_ids if i in fmap) / max(
            1, len(t.finding_ids)
        )
        own_chart = f"theme_{n}"
        themes.append(
            ThemeSpec(
                id=t.id,
                label=t.label,
                summary=t.summary,
                description=t.description,
                n_documents=t.n_documents,
                total_documents=t.total_documents,
                n_participants=t.n_participants,
                total_participants=t.total_participants,
                quotes=[_finding_quote(f, docs) for f in reps],
                codes=codes,
                keywords=t.keywords,
                chart_id=own_chart if own_chart in chart_ids else prevalence_chart,
                confidence=round(conf, 3),
                flags=list(t.flags),
            )
        )
        for fid in t.finding_ids:
            theme_of[fid] = t.id
            label_of[fid] = t.label
        for c in t.codes:
            for fid in c.finding_ids:
                code_of[fid] = c.label
    theme_ids = {t.id for t in themes}
    asked = ctx.question.rstrip().endswith("?")
    parts = [
        PartSpec(
            # each part asked as the question was: "What worries them?"
            question=p.question + ("?" if asked and not p.question.endswith("?") else ""),
            theme_ids=[i for i in p.theme_ids if i in theme_ids],
            quotes=[_finding_quote(fmap[i], docs) for i in p.finding_ids if i in fmap],
        )
        for p in synthesis.parts
    ]
    rows = []
    for f in sorted(
        findings,
        key=lambda f: (theme_of.get(f.id) is None, theme_of.get(f.id) or "", f.doc_id, f.id),
    ):
        ev = f.evidence[0]
        shown = clean(ev.quote)
        rows.append(
            FindingRow(
                finding_id=f.id,
                theme_id=theme_of.get(f.id),
                theme_label=label_of.get(f.id),
                code_label=code_of.get(f.id),
                doc_title=docs[f.doc_id].title,
                doc_id=f.doc_id,
                speaker=ev.speaker,
                # the offline engine writes no text of its own: its claim renders (a longer
                # stretch of) the quote, so no Claim column repeats quotes
                claim=None if not ctx.runner.uses_model or clean(f.claim) == shown else f.claim,
                quote=ev.quote,
                display=shown,
                prompt=clean(f.context.quote) if f.context is not None else None,
                confidence=f.confidence,
            )
        )
    roles = _role_rows(ctx, docs)
    summary = [
        f"{n_docs} {noun} analysed for: \u201c{ctx.question}\u201d; {len(findings)} verbatim findings.",
    ]
    with_interviewer = [r for r in roles if r.interviewers]
    if with_interviewer:
        names = sorted({n for r in with_interviewer for n in r.interviewers})
        summary.append(
            f"Evidence is what participants said: the interviewer's turns ({', '.join(names[:3])}"
            f"{' …' if len(names) > 3 else ''}, in {len(with_interviewer)} of {len(roles)} "
            f"{noun}) are kept only as the prompts that drew each answer."
        )
    if synthesis.themes:
        top = synthesis.themes[0]
        summary.append(
            f"{len(synthesis.themes)} themes; the most widespread, \u201c{top.label}\u201d, "
            f"comes up in {top.n_documents} of {top.total_documents} {noun}"
            f"{_people(top.n_participants, top.total_participants)}."
        )
        for t in synthesis.themes[1:4]:
            summary.append(
                f"\u201c{t.label}\u201d: {t.n_documents} of {t.total_documents} {noun}"
                f"{_people(t.n_participants, t.total_participants)}."
            )
    else:
        summary.append("No theme is shared by enough documents to report; see the findings table.")
    if synthesis.unassigned_doc_ids:
        summary.append(
            f"{len(synthesis.unassigned_doc_ids)} of {n_docs} {noun} fit no theme; they are listed, not forced in."
        )
    if ctx.corpus.other_language:
        summary.append(
            f"{len(ctx.corpus.other_language)} of {n_docs} {noun} are in another language and "
            "were listed instead of analysed."
        )
    summary.append(note)
    notes: list[str] = []
    if critique is not None:
        notes.append(f"Reviewer (critic): verdict {critique.verdict}; {critique.summary}")
        notes += [
            f"{next((t.label for t in synthesis.themes if t.id == i.theme_id), 'finding ' + str(i.finding_id))}"
            f": {i.kind.replace('_', ' ')}: {i.detail}"
            for i in critique.issues
        ]
    return ReportSpec(
        title=f"{ctx.corpus.name}: {ctx.question}",
        question=ctx.question,
        engine=ctx.engine,
        engine_note=note,
        created_at=now_iso(),
        run_id=ctx.store.run_id,
        corpus_name=ctx.corpus.name,
        n_documents=n_docs,
        noun=noun,
        executive_summary=summary,
        themes=themes,
        parts=parts,
        unassigned=[docs[d].title for d in synthesis.unassigned_doc_ids],
        unassigned_reasons={
            docs[d].title: r for d, r in synthesis.unassigned_reasons.items() if d in docs
        },
        not_analysed={
            docs[d].title: f"written in another language ({lang})"
            for d, lang in ctx.corpus.other_language.items()
            if d in docs
        },
        speaker_roles=roles,
        reviewer_notes=notes,
        candidate_codes=[
            f"\u201c{c.label}\u201d, raised in {c.n_documents} {noun}"
            + (f": {c.description}" if c.description else "")
            for c in synthesis.candidate_codes
        ],
        findings_csv=FINDINGS_CSV,
        charts=list(charts),
        findings=rows,
        method={
            # the deck and report add corpus, engine, cost, date and run themselves
            "Segments": f"{sum(len(d.segments) for d in ctx.corpus.documents)} {noun} segments (speaker turns, fields, symbols)",
            "Speaker roles": _roles_method(roles),
            "Retrieval": "BM25 (bm25s) + dense (all-MiniLM-L6-v2 in Chroma), reciprocal rank fusion",
            "Synthesis": synthesis.method,
            "Quote check": "every quote verified verbatim against its source segment",
        },
        cost_usd=float(cost),
    )


FINDINGS_CSV = "findings.csv"


def _role_rows(ctx: RunContext, docs: dict[str, Document]) -> list[RoleRow]:
    return [
        RoleRow(
            doc_title=docs[r.doc_id].title,
            interviewers=r.interviewers,
            participants=r.participants,
            how=r.note,
        )
        for doc_id, r in sorted(ctx.corpus.roles.items())
        if doc_id in docs
    ]


def _roles_method(roles: Sequence[RoleRow]) -> str:
    if not roles:
        return "not conversations: every document's text is evidence"
    named = sum(1 for r in roles if r.interviewers)
    return (
        f"interviewer detected in {named} of {len(roles)} conversations (by label, or as the "
        "speaker who asks the questions); their turns are prompts, never evidence"
    )


def write_findings_csv(path: Path, rows: Sequence[FindingRow]) -> None:
    """The full findings table beside the deck (the deck's appendix is bounded per theme)."""
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "finding_id",
                "theme",
                "code",
                "document",
                "speaker",
                "prompt",
                "quote",
                "claim",
                "confidence",
            ]
        )
        for r in rows:
            w.writerow(
                [
                    r.finding_id,
                    r.theme_label or "",
                    r.code_label or "",
                    r.doc_title,
                    r.speaker or "",
                    r.prompt or "",
                    r.display or r.quote,
                    r.claim or "",
                    f"{r.confidence:.2f}",
                ]
            )


def verify_spec(spec: ReportSpec, docs: dict[str, Document]) -> None:
    """Every quote the outputs show, verbatim in its source, once more before writing."""
    quotes = [q for t in spec.themes for q in [*t.quotes, *(x for c in t.codes for x in c.quotes)]]
    quotes += [q for p in spec.parts for q in p.quotes]
    for q in quotes:
        doc = docs.get(q.doc_id)
        if doc is None or q.text not in doc.segment(q.segment_id).text:
            raise RunError(
                f"quote not verbatim in {q.doc_id}/{q.segment_id}: {q.text[:80]!r}",
                stage="export",
            )
    by_title = {d.title: d for d in docs.values()}
    for r in spec.findings:
        doc = docs.get(r.doc_id or "") or by_title.get(r.doc_title)
        if doc is None or r.quote not in doc.text:
            raise RunError(
                f"finding {r.finding_id}: quote not verbatim in {r.doc_title}", stage="export"
            )


def write_exports(
    ctx: RunContext,
    findings: Sequence[Finding],
    synthesis: Synthesis,
    charts: Sequence[ChartSpec],
    critique: CriticOutput | None = None,
) -> dict[str, str]:
    from exports.deck import build_deck
    from exports.report import write_html, write_markdown

    spec = build_spec(ctx, findings, synthesis, charts, critique)
    verify_spec(spec, ctx.corpus.by_id())
    run_dir = ctx.store.dir
    write_findings_csv(run_dir / FINDINGS_CSV, spec.findings)
    # quotes from timed transcripts with a recording beside them get playable clips
    spec, clip_outputs = attach_clips(
        spec, ctx.corpus, run_dir, warn=lambda m: ctx.emit(Event("warning", "export", m))
    )
    ctx.store.write_json("report_spec.json", spec.model_dump(mode="json"))
    deck = build_deck(spec, run_dir, run_dir / "deck.pptx")
    html = write_html(spec, run_dir, run_dir / "report.html")
    md = write_markdown(spec, run_dir, run_dir / "report.md")
    qda = _researcher_files(ctx, findings, synthesis)
    return {
        "deck": deck.name,
        "report_html": html.name,
        "report_md": md.name,
        "findings_csv": FINDINGS_CSV,
        **clip_outputs,
        **qda,
    }


def _researcher_files(
    ctx: RunContext, findings: Sequence[Finding], synthesis: Synthesis
) -> dict[str, str]:
    """The run for QDA tools (REFI-QDA .qdpx) and as a codebook a later run takes in."""

    run_dir = ctx.store.dir
    manifest = ctx.store.manifest()
    out = {
        "qdpx": write_qdpx_for_run(run_dir, manifest, ctx.corpus.by_id(), findings, synthesis).name
    }
    book = write_run_codebook(run_dir, findings, synthesis)
    if book is not None:
        out["codebook"] = book.name
    return out
